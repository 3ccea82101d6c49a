FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MARGINCALL_VAR_DIR=/var/lib/margincall
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN mkdir -p /var/lib/margincall && SECRET_KEY=build python manage.py collectstatic --noinput -v0 \
    && useradd --system --no-create-home margincall && chown margincall /var/lib/margincall
# Not root: the server, the worker and beat need to write only their var directory (and /tmp).
USER margincall
EXPOSE 8000
CMD ["python", "-m", "margincall.serve", "--host", "0.0.0.0", "--port", "8000"]
