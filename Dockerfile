FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY gateway ./gateway
COPY workers ./workers
COPY monitoring ./monitoring
COPY emulator ./emulator
COPY cli ./cli
COPY bench ./bench
RUN pip install --no-cache-dir . && useradd --create-home exai
USER exai
EXPOSE 8079
CMD ["exai", "gateway"]
