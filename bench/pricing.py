"""us-east-1 list prices the cost figures use, each with its source and date.

These are the public on-demand list prices (no free tier, first volume tier)
as published on the pages named, as of PRICES_AS_OF.  This machine has no
internet access, so the bench cannot re-read them: check the pages before
quoting a figure, and update a price here (one place) when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2025-06 (AWS list prices, us-east-1)"


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str


LAMBDA_REQUEST = Price(0.20 / 1e6, "request", "https://aws.amazon.com/lambda/pricing/ (requests: $0.20 per 1M)")
LAMBDA_GB_SECOND_ARM = Price(
    0.0000133334, "GB-second (arm64)",
    "https://aws.amazon.com/lambda/pricing/ (arm64 duration, first 7.5B GB-s/month: $0.0000133334 per GB-s)")
HTTP_API_REQUEST = Price(
    1.00 / 1e6, "request (512 KB increments)",
    "https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs, first 300M/month: $1.00 per 1M)")
WEBSOCKET_MESSAGE = Price(
    1.00 / 1e6, "message (32 KB increments)",
    "https://aws.amazon.com/api-gateway/pricing/ (WebSocket APIs, first 1B/month: $1.00 per 1M messages)")
WEBSOCKET_CONNECTION_MINUTE = Price(
    0.25 / 1e6, "connection-minute",
    "https://aws.amazon.com/api-gateway/pricing/ (WebSocket APIs: $0.25 per 1M connection minutes)")
DYNAMODB_WRITE_UNIT = Price(
    0.625 / 1e6, "write request unit",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class: $0.625 per 1M WRU)")
DYNAMODB_READ_UNIT = Price(
    0.125 / 1e6, "read request unit",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class: $0.125 per 1M RRU)")
KMS_ASYMMETRIC_REQUEST = Price(
    0.15 / 1e4, "request (asymmetric keys except RSA 2048)",
    "https://aws.amazon.com/kms/pricing/ ($0.15 per 10,000 asymmetric requests except RSA 2048)")
KMS_RSA_2048_REQUEST = Price(
    0.03 / 1e4, "request (RSA 2048 keys)",
    "https://aws.amazon.com/kms/pricing/ ($0.03 per 10,000 requests involving RSA 2048 keys)")
KMS_SYMMETRIC_REQUEST = Price(
    0.03 / 1e4, "request (symmetric keys)", "https://aws.amazon.com/kms/pricing/ ($0.03 per 10,000 requests)")
KMS_KEY_MONTH = Price(1.00, "key-month", "https://aws.amazon.com/kms/pricing/ ($1 per key per month)")
SECRETS_MANAGER_CALL = Price(
    0.05 / 1e4, "API call", "https://aws.amazon.com/secrets-manager/pricing/ ($0.05 per 10,000 API calls)")
SECRETS_MANAGER_SECRET_MONTH = Price(
    0.40, "secret-month", "https://aws.amazon.com/secrets-manager/pricing/ ($0.40 per secret per month)")
LOGS_INGESTED_GB = Price(
    0.50, "GB ingested",
    "https://aws.amazon.com/cloudwatch/pricing/ (Logs, Lambda logs first 10 TB/month: $0.50 per GB)")
# Free, so not priced: Lambda's reads of the DynamoDB stream for a trigger, stream
# records the FilterCriteria drop (no invocation), TTL deletes.
