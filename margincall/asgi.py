"""The console as an ASGI application (``python -m margincall.serve`` runs it under uvicorn)."""

import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "margincall.settings")

# WhiteNoise answers static files with a synchronous iterator, which Django reads whole under ASGI; the
# console's static files are a few small, cached files, so that is fine and the warning is noise.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

application = get_asgi_application()
