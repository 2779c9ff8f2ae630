"""System checks for ``METRICS`` and ``TRACING``: the library each needs is installed."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core.checks import CheckMessage, Error, register

from djira.checks import DISTRIBUTION, TAG, _user_settings, _value


@register(TAG)
def check_telemetry(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``METRICS`` needs prometheus_client, ``TRACING`` opentelemetry-api."""
    user = _user_settings()
    if user is None:
        return []
    errors: list[CheckMessage] = []
    if _value(user, "METRICS") is True and importlib.util.find_spec("prometheus_client") is None:
        errors.append(
            Error(
                "DJIRA_SETTINGS['METRICS'] is on but prometheus_client is not installed.",
                hint=f"pip install '{DISTRIBUTION}[metrics]', or set METRICS to False.",
                id="djira.E030",
            )
        )
    if _value(user, "TRACING") is True and importlib.util.find_spec("opentelemetry") is None:
        errors.append(
            Error(
                "DJIRA_SETTINGS['TRACING'] is on but opentelemetry-api is not installed.",
                hint=f"pip install '{DISTRIBUTION}[tracing]' (and configure the "
                "OpenTelemetry SDK), or set TRACING to False.",
                id="djira.E031",
            )
        )
    return errors
