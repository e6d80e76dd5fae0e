"""Python client of Patron, the retail customer-intelligence platform.

>>> import patron
>>> client = patron.Client()            # $PATRON_ADDR / $PATRON_TOKEN or data/dev-api-key
>>> features = client.export_customer_features(time_unit_name="weeks")
>>> job = client.train("churn", on_progress=patron.print_progress())

The generated stubs are importable as ``patron.<service>.v1.<service>_pb2``
and ``..._pb2_grpc`` (built from the repository's proto/ at install time).
"""

from patron.client import Client, comparison_frame, is_better, nothing_active
from patron.jobs import JobFailed, print_progress

__all__ = ["Client", "JobFailed", "comparison_frame", "is_better", "nothing_active", "print_progress"]
