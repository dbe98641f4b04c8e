"""An agent whose tool calls fan out on threads and on asyncio, between two LLM calls.

Run: python examples/agent_tools.py

Every tool call is a TOOL span under the AGENT span, whether it ran on a thread pool or as
an asyncio task: genai-trace carries the current span into both. The OpenAI calls (traced
by genai_trace.autolog()) are CHAT_MODEL children with token usage, summed in the trace.
Offline by default; set OPENAI_BASE_URL and OPENAI_API_KEY to use a real endpoint.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from _offline import MODEL, client, last_trace, local_llm, print_trace

import genai_trace
from genai_trace import SpanType

WEATHER = {"Paris": "18 C, cloudy", "Oslo": "4 C, snow"}
POPULATION = {"Paris": 2_100_000, "Oslo": 710_000}


@genai_trace.trace(span_type=SpanType.TOOL)
def get_weather(city: str) -> str:  # a blocking tool: run on threads
    return WEATHER[city]


@genai_trace.trace(span_type=SpanType.TOOL)
async def get_population(city: str) -> int:  # an async tool: run as tasks
    await asyncio.sleep(0.01)
    return POPULATION[city]


async def gather_populations(cities: list[str]) -> list[int]:
    return list(await asyncio.gather(*(get_population(c) for c in cities)))


@genai_trace.trace(span_type=SpanType.AGENT)
def travel_agent(question: str, cities: list[str]) -> str:
    plan = client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Plan tool calls for: {question}"}]
    )
    assert plan.choices[0].message.content
    with ThreadPoolExecutor(max_workers=len(cities)) as pool:
        weather = list(pool.map(get_weather, cities))
    populations = asyncio.run(gather_populations(cities))
    facts = "; ".join(
        f"{c}: {w}, {p} people" for c, w, p in zip(cities, weather, populations, strict=True)
    )
    final = client().chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": f"Facts: {facts}"},
            {"role": "user", "content": question},
        ],
    )
    return final.choices[0].message.content or ""


def main() -> None:
    genai_trace.autolog("openai")
    with local_llm():
        print(travel_agent("Where should I go this weekend?", ["Paris", "Oslo"]))
    print_trace(last_trace())


if __name__ == "__main__":
    main()
