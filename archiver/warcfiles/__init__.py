"""WARC files in one place: records built (`records`), gzip members (`members`), the
writer and its rotation (`writer`), the files of a warcs folder (`listing`), a killed
writer's file recovered (`recover`), the strict member reader and the whole-file hash
(`reader`). Core: imports no archiver package above it."""
