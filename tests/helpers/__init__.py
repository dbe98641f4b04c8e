"""What the tests share and are not tests themselves.

``trace_shape`` spells a trace out as plain data; ``servers/`` holds the fake LLM APIs
(OpenAI- and Anthropic-compatible) on 127.0.0.1; ``backends`` starts the real OTLP backends;
``apps/`` holds the small apps the tests run, some as separate processes; ``reliability/`` the
faulty backend and the child processes; ``install_smoke/`` the scripts check_installs.sh runs
in fresh venvs. Import them as ``tests.helpers...`` (the repository root is on ``sys.path``
under pytest; scripts run as processes put it there themselves).
"""
