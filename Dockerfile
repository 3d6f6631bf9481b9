# syntax=docker/dockerfile:1
# Multi-stage build: a wheel is built in the first stage, the runtime image holds only the
# installed package and runs as an unprivileged user.

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md constraints.txt ./
COPY connector ./connector
COPY providers ./providers
COPY schemas ./schemas
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONNECTOR_CONFIG=/config/connector.toml
RUN useradd --system --uid 10001 --home-dir /var/lib/connector --create-home connector
COPY --from=build /dist/*.whl /src/constraints.txt /tmp/
RUN python -m pip install --no-cache-dir -c /tmp/constraints.txt /tmp/*.whl \
    && rm /tmp/*.whl /tmp/constraints.txt
USER connector
WORKDIR /var/lib/connector
VOLUME ["/var/lib/connector"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
ENTRYPOINT ["connector"]
CMD ["serve"]
