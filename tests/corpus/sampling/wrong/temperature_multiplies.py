"""Wrong: the logits are multiplied by the temperature instead of divided by it (T = 0.5 then
flattens the distribution that it should sharpen)."""

LOSES = {"apply_temperature"}
HINT = "divide the logits"


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return logits * temperature
