"""What the OpenAI-compatible surface keeps beside the agent's services, built once at
start-up (`app.state.openai`): conversation heads of resent histories, sealed one-time
secret tickets (also opened by `/v1/secrets/claim`), and the token counter."""

from __future__ import annotations

from dataclasses import dataclass

from agent.secret_tickets import SecretTickets
from agent.service import AgentServices
from agent.threads import Threads
from server.tokens import TokenCounter


@dataclass(frozen=True)
class OpenAIState:
    threads: Threads
    tickets: SecretTickets
    tokens: TokenCounter

    @classmethod
    def build(cls, services: AgentServices) -> OpenAIState:
        return cls(
            threads=Threads(services.engine, services.clock),
            tickets=SecretTickets(services.engine, services.clock),
            tokens=TokenCounter(),
        )
