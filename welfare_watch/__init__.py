"""welfare-watch: department updates joined against the assistance roster, as they arrive."""
