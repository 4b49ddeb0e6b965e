FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=lipservice.settings LIPSERVICE_DATA_DIR=/data
WORKDIR /app
RUN useradd --create-home --uid 1000 lipservice && mkdir -p /data && chown lipservice /data
COPY . /app
RUN pip install ./sdk/python . && python manage.py collectstatic --noinput --verbosity 0
USER lipservice
EXPOSE 8000
# One gthread worker per core (gunicorn reads WEB_CONCURRENCY); the policy poll path is measured in bench/RESULTS.md.
ENV WEB_CONCURRENCY=2
CMD ["gunicorn", "lipservice.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--threads", "4", "--access-logfile", "-"]
