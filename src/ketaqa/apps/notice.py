"""The standing notice every front end shows beside answers: the statement is not
prescriptive, and ketaqa gives no advice of its own."""

NOTICE = (
    "This is a position statement, not a guideline or policy: it describes where the college "
    "stands and is not prescriptive. Passages are shown verbatim; nothing here is advice."
)
