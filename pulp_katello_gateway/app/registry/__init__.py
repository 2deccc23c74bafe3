"""Registry endpoints this plugin answers instead of pulp_container (see ``urls.py``)."""
