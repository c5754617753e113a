"""The Faust app object, for ``faust -A streamer.app worker``.

Settings are read from the environment once, here at the edge; nothing else happens at import.
``streamer worker`` is the same app with topic creation and logging set up first.
"""

from streamer.settings import Settings
from streamer.shell.faust_app import create_app

settings = Settings.from_env()
app = create_app(settings)
