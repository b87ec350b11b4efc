from rightsdesk.core.errors import ApplicationError


class MultiLikenessUnsupported(ApplicationError):
    # generation renders one likeness adapter per image; a group shot would need several
    # adapters active at once, which neither the tiny pipeline nor our LoRA path supports.
    code = "multi_likeness_unsupported"
    default_message = (
        "A render request can name the licence of one talent only: an image renders one likeness."
    )


class GateRequired(ApplicationError):
    # Written as a render's failure reason when a task finds no stored allow decision for
    # the request's current spec (a forged or stale task message); nothing is rendered.
    code = "gate_required"
    status = 409
    default_message = "No stored allow decision of the gate covers this render."


class QuantityExhausted(ApplicationError):
    # Checked again inside the release's transaction with a conditional UPDATE: the gate
    # saw room, but a concurrent release may have taken the last one.
    code = "quantity_exhausted"
    status = 409
    default_message = "The licence's usage row for this medium and territory is used up."
