"""The service keeps its contract (/openapi.json): schemathesis, every check on, against a live `rota serve`.

Its phases (the schema's examples, coverage of every parameter's edges, fuzzing with
valid and invalid data, stateful sequences following the links between operations)
run from a fixed seed, so a failure reproduces; tests/schemathesis.toml says why the
one operation with a relaxed check has it.
"""

import subprocess
import sys
from pathlib import Path

from test_spec_5_2_service import TOKEN, Server

CONFIG = Path(__file__).parent / "schemathesis.toml"
EXAMPLES_PER_OPERATION = 60
SEED = 10


def test_every_operation_answers_as_its_contract_says(tmp_path):
    server = Server(tmp_path).start()
    try:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "--config-file",
                str(CONFIG),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "all",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--max-examples",
                str(EXAMPLES_PER_OPERATION),
                "--seed",
                str(SEED),
                "--workers",  # one: Python 3.11's ast.parse, which hypothesis calls, is not safe across threads
                "1",
                "--generation-database",
                "none",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,  # its reports and caches stay out of the tree
        )
    finally:
        server.stop()
    # What the service logged (a server error's traceback) says why, where schemathesis shows the request.
    logged = server.process.stderr.read().decode(errors="replace")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:] + "\nservice:\n" + logged[-6000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout
