"""Backups of Carewarden's own store: the encrypted archive format (:mod:`.crypto`) and its
manifest (:mod:`.manifest`). Making, checking and restoring one is
:mod:`carewarden.services.backup`."""
