"""Pure domain rules: no I/O, no database, no chat library."""
