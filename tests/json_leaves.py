"""``leaves(value)``: every non-container value of parsed JSON, depth first; shared by the manifest tests."""


def leaves(value):
    """Yield the strings, numbers, booleans and nulls inside nested dicts and lists."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value
