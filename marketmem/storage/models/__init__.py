"""Read models: what the storage's reads return, one module per area, as msgspec Structs.

Each Struct has exactly the fields its read returns, in the order they are encoded; a read
never hands out a row dict or a cursor. Row models (one stored row, built positionally from a
select list generated from their fields) are frozen and positional; models a read composes
in code are keyword-only.
"""
