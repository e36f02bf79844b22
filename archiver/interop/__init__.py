"""Interoperability: the archive in the tools archivists and courts already trust.

- `wacz`: an article's (or the whole archive's) captures as a WACZ 1.1.1 package, which
  ReplayWeb.page opens and `wacz validate` accepts;
- `cdxj`: `warcs/index.cdxj`, a sorted CDXJ replay index kept up to date as WARCs close;
- `replay`: `archive replay`, pywb serving the archive at /archive/<timestamp>/<url>;
- `importer`: WARCs written by other tools (wget, Browsertrix, ArchiveBox) registered as
  snapshots of the citations they hold.

Nothing here is imported by capture, check or the manifest; the CLI calls in. Robust
Links snippets and replay URLs are the manifest's (`archiver.manifest.robust`).
"""
