"""In-memory simulator of TelemetryTV's user and user-group REST API.

`create_simulator_app(settings)` returns a Starlette app implementing the TelemetryTV REST
contract the proxy targets (users, user groups, auth, paging, error shapes), so demos, tests
and benchmarks run without a TelemetryTV account.
`scim_proxy.simulator.server.run_simulator` serves one with uvicorn.
"""

from scim_proxy.simulator.app import RecordedRequest, create_simulator_app
from scim_proxy.simulator.model import SimulatorSettings
from scim_proxy.simulator.store import SimulatorStore

__all__ = ["RecordedRequest", "SimulatorSettings", "SimulatorStore", "create_simulator_app"]
