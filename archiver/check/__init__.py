"""Link-rot checks: one live fetch per archived target, classified, compared, scheduled.

- `classify`: what a live answer means (`Rot`, `Observation` → `Verdict`), pure.
- `dead`: the dead rule and when to check again, pure.
- `probe`: the random-sibling probe that unmasks soft 404s, cached per run.
- `run`: `check_due`, the thread pool that fetches, stores, recaptures and reports.
"""

from archiver.check.classify import Observation, Rot, Verdict, classify

__all__ = ["Observation", "Rot", "Verdict", "classify"]
