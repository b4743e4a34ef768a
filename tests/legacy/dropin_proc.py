"""A legacy agent process: legacy imports only, no configure() (run with ``python -m``).

Usage: ``python -m tests.legacy.dropin_proc CORRELATION_ID`` with ``KAFKA_BOOTSTRAP_SERVERS`` (and
``ONEX_TOPIC_PREFIX``, ``ONEX_SPOOL_DIR``) in the environment. Prints the calls' return values as
one JSON list, then exits normally (the exit flushes the events to Kafka).
"""

from __future__ import annotations

import asyncio
import json
import sys

from onex_otel import (
    ActionLogger,
    AgentExecutionPublisherContext,
    EnumOperationStatus,
    log_agent_execution,
)


async def main(cid: str) -> list[bool]:
    results = []
    standalone = ActionLogger("agent-hook", correlation_id="legacy-" + cid)
    results.append(await standalone.log_tool_call("Read", {"file_path": "/x.py"}, {"n": 1}, 12))
    results.append(await standalone.log_decision("select_agent", {"c": 1}, {"s": "a"}))
    async with AgentExecutionPublisherContext() as publisher:
        results.append(
            await publisher.publish_execution_started(
                "agent-researcher", "Research async patterns", cid, "session-1", {"d": 1}
            )
        )
        log = ActionLogger("agent-researcher", correlation_id=cid)
        async with log.tool_call("Grep", {"pattern": "TODO"}) as action:
            action.set_result({"matches": 42})
        results.append(
            await publisher.publish_execution_progress("agent-researcher", cid, 50, "searching", 1, 2)
        )
        results.append(
            await publisher.publish_execution_completed(
                "agent-researcher", cid, 1500, 0.92, "done", {"tool_calls": 1}
            )
        )
    logger = await log_agent_execution("agent-router-service", "route me", correlation_id="router-" + cid)
    results.append(
        await logger.complete(EnumOperationStatus.FAILED, error_message="Timeout", error_type="TimeoutError")
    )
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
