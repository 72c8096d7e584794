"""Stream path workers (Kafka consumer groups): webcam and screen detectors, the incident
aggregator and the Delta lander. They publish facts; the API applies each exam's policy.
Workers never import ``realtime.api``."""
