"""Link-rot checks: one live fetch per archived target, classified, compared, scheduled.

- `classify`: what a live answer means (`Observation` → `Verdict`, its class an
  `archiver.states.Rot`), pure.
- `urlrules`: what a final URL says (site root, not-found URL, section front page).
- `dead`: the dead rule and when to check again, pure.
- `probe`: the random-sibling probe that unmasks soft 404s, cached per run.
- `gate`: a long Retry-After skips the host for the rest of the run (`HostDeferred`).
- `engine`: one target checked live (`CheckEngine.inspect` → `CheckResult`); the run
  that claims, stores and recaptures is `archiver.runs.check`.
"""

from archiver.check.classify import Observation, Verdict, classify

__all__ = ["Observation", "Verdict", "classify"]
