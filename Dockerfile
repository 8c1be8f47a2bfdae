# The one image for web, worker, beat and the migrate step.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN useradd --system --create-home --uid 10001 vectis
COPY pyproject.toml README.md ./
COPY vectis ./vectis
COPY integrations ./integrations
COPY customers ./customers
COPY security ./security
COPY compliance ./compliance
COPY audit ./audit
COPY accounts ./accounts
RUN pip install .
COPY manage.py ./
COPY templates ./templates
COPY static ./static
# collectstatic needs settings that parse; these throwaway values exist only in this build step.
RUN DEBUG=false SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    VECTIS_ENCRYPTION_KEYS=ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE= \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 REDIS_URL=redis://collectstatic-only:6379/0 \
    python manage.py collectstatic --noinput

USER vectis
EXPOSE 8000
CMD ["gunicorn", "vectis.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
