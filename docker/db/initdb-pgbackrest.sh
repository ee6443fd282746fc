#!/bin/sh
# First start of a new data volume: create the stanza, pgBackRest's record of this cluster in its
# repository, so that the archive_command's pushes are accepted from now on. The entrypoint runs this as
# postgres while its temporary server listens on the socket only; a volume made before backups were
# added needs the same command once by hand (docs/operations.md, "Backups and restore").
set -e
pgbackrest --stanza=slamon stanza-create
