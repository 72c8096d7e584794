"""The application: the ``proctorlake`` command, the demo and the launchers of local services.
The only layer that may import every room."""
