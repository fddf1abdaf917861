"""CloudWatch metrics as Embedded Metric Format lines on stdout (powertools), which
CloudWatch Logs turns into metrics: no API call, no IAM permission.

Namespace "Threadline", dimension `service` ("threadline"), plus `channel` where the event
has one. Every combination of dimension values is a metric of its own, billed monthly, so
shop ids are never a dimension: a thousand shops would make each figure a thousand metrics.
Per-shop figures come from the reports instead.

All metrics of one EMF blob share its dimension values, while one SQS batch mixes channels:
each set of values gathers its metrics apart (powertools' EphemeralMetrics, which keeps its
own state), and `flush` writes them all at the end of an invocation.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics import EphemeralMetrics

NAMESPACE = "Threadline"
SERVICE = "threadline"


class CloudWatchMetrics:
    def __init__(self, namespace: str = NAMESPACE, service: str = SERVICE) -> None:
        self._namespace = namespace
        self._service = service
        # Gathered since the last flush, by channel (None: no channel dimension).
        self._pending: dict[str | None, EphemeralMetrics] = {}

    def _metrics_for(self, channel: str | None) -> "EphemeralMetrics":
        from aws_lambda_powertools.metrics import EphemeralMetrics

        metrics = self._pending.get(channel)
        if metrics is None:
            metrics = EphemeralMetrics(namespace=self._namespace, service=self._service)
            if channel is not None:
                metrics.add_dimension(name="channel", value=channel)
            self._pending[channel] = metrics
        return metrics

    def count(self, name: str, channel: str | None = None) -> None:
        self._metrics_for(channel).add_metric(name=name, unit="Count", value=1)

    def seconds(self, name: str, value: float, channel: str | None = None) -> None:
        self._metrics_for(channel).add_metric(name=name, unit="Seconds", value=value)

    def value(self, name: str, value: float, channel: str | None = None) -> None:
        """A measure without a unit (a rating): its average is the CloudWatch statistic."""
        self._metrics_for(channel).add_metric(name=name, unit="None", value=value)

    def flush(self) -> None:
        """Writes what was gathered (one line per set of dimension values)."""
        pending, self._pending = self._pending, {}
        for metrics in pending.values():
            metrics.flush_metrics()
