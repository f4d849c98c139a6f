"""Engines broken on purpose, so the property checks of rota.testing can be seen to fail."""

from rota.engine import Engine, Router
from rota.simulate.desk import without_reassign


class TurnSkippingRouter(Router):
    """Round-robin that moves the cursor one candidate too far after every pick."""

    def place(self, route, contact, now):
        decision = super().place(route, contact, now)
        if decision is not None and decision.reason == "round_robin":
            ids = [user.id for user in self.candidates(route, contact, now)]
            self.roster.cursors[route.pool_key] = ids[(ids.index(decision.user) + 1) % len(ids)]
        return decision


class TurnSkippingEngine(Engine):
    def use_policy(self, policy):
        super().use_policy(policy)
        self.router = TurnSkippingRouter(policy, self.roster)


class ReleaseIgnoringEngine(Engine):
    """Runs the policy as if it had no `reassign` options: contacts stay with their assignees for good."""

    def use_policy(self, policy):
        super().use_policy(without_reassign(policy))


class ScanningDrainEngine(Engine):
    """Drains as SPEC 4 says, without eligibility classes: every queued contact in queue order until one is placed."""

    def _place_first(self, now):
        for entry in self.queue.in_order():
            route = self.policy.route_named(entry.route)
            decision = self.router.place(route, self.contacts[entry.contact].contact, now) if route else None
            if decision is not None:
                self.queue.remove(entry.contact)
                self._set_timers(decision, route)
                return decision
        return None
