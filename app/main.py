"""The conventional entry point: `uvicorn app.main:app`, `fastapi run`.

The app here is built from the environment when this module is imported, so only servers import
it. Tests and scripts that choose their own settings call `app.factory.create_app` instead.
"""

from app.factory import create_app
from app.logs import configure_logging
from app.settings import get_settings

settings = get_settings()
configure_logging(settings.logs_as)
app = create_app(settings)
