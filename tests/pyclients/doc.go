// Package pyclients runs the Python Kafka clients users install from PyPI against a
// `kafscale dev` started by each test: confluent-kafka (with the librdkafka its wheel
// bundles), kafka-python and aiokafka, at the versions pinned in requirements.txt.
//
// scripts/test-deps.sh installs them into a venv under the cache folder; the tests fail,
// never skip, when that venv is missing or was made from another requirements.txt. Each
// client has one script in python/ that reads a JSON job on stdin and prints one JSON
// result (python/jobio.py describes both); the Go test does all the checking. Debian's
// older confluent-kafka (librdkafka 2.0.2) keeps its own tests in tests/compat and
// tests/groups.
package pyclients
