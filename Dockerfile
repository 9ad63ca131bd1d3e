# One image for every process of the service: gateway, worker, monitor, Flower, stdio bridge.
# The command picks the role (see docker-compose.yml and deploy/kubernetes/).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EXAI_WS_HOST=0.0.0.0 \
    EXAI_MONITOR_HOST=0.0.0.0

WORKDIR /app

# Metadata first, so a code change does not invalidate the dependency layer's cache key inputs.
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY gateway ./gateway
COPY workers ./workers
COPY monitoring ./monitoring
COPY emulator ./emulator
COPY bridge ./bridge
COPY cli ./cli
COPY bench ./bench

RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 exai

# A numeric user, so Kubernetes' runAsNonRoot can verify it.
USER 10001

# 8079 MCP WebSocket (+ old protocol), 8078 MCP Streamable HTTP and /livez /readyz,
# 8081 health, 8000 metrics, 8080 dashboard, 5555 Flower.
EXPOSE 8079 8078 8081 8000 8080 5555

CMD ["exai", "gateway"]
