"""Screenshots of snapshots, rendered by headless Chromium from the archive's own replay."""
