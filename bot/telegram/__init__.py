"""The Telegram edge: residents' messages in, the core's replies out, the question log fed.

``app`` builds and runs the PTB Application (handlers, jobs, start and stop);
``state`` holds what handlers share; ``render`` turns a core Reply into Telegram
arguments; ``residents``, ``buttons``, ``inline`` and ``admin`` are the handlers;
``errors`` is the one error handler.
"""
