"""Storage and engine adapters: object store (local or S3), Delta tables, Kafka clients and the
local broker, Maven jars, the one SparkSession factory, video files. Imports only ``core``."""
