"""Launching the sample Max service and its local dependencies, as the demo, the end-to-end
tests and the benchmarks do: ``sample_service.SampleService`` starts the API and the Celery
worker under ``opentelemetry-instrument`` exactly as users start them;
``local_servers.RedisServer`` and ``local_servers.PostgresServer`` run throwaway servers on
loopback addresses.
"""
