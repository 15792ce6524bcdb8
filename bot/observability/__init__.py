"""What the operator sees of a running bot: logs that carry no secrets, and Prometheus metrics."""
