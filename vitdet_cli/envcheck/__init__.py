"""Is this machine ready for the device asked for? The checks behind ``vitdet env-check``
(``checks.py``); training runs them too, to fail before any work is done."""
