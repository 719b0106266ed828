# One image for every kubemu component; docker-compose.yml picks the component by its command.
FROM python:3.11-slim
WORKDIR /opt/kubemu
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
RUN pip install --no-cache-dir .
ENV KUBEMU_LOG_FORMAT=json \
    KUBEMU_STATE_DIR=/var/lib/kubemu \
    PYTHONUNBUFFERED=1
