"""Bug: after a merge the scan moves on by one token, not two, so overlapping occurrences
are merged too: [7, 7, 7] becomes [300, 300]."""

LOSES = {"merge"}
HINT = "do not overlap"


def merge(ids, pair, new_id):
    result = []
    i = 0
    while i < len(ids):
        if i < len(ids) - 1 and (ids[i], ids[i + 1]) == tuple(pair):
            result.append(new_id)
        else:
            result.append(ids[i])
        i += 1
    return result
