"""Names of the shot's structural members, shared by the EXR's Cryptomatte and the USD hierarchy.

A member is named by its storey and its kind, numbered within both:
"floor02/column_3" is the fourth column of the third storey. The same name is
the Cryptomatte ID a compositor picks and the USD path a lighter finds.
"""

from __future__ import annotations

from collections import defaultdict

DEBRIS = "debris"
DUST = "dust"
GROUND = "ground"
PAVEMENT = "pavement"  # pavements and kerbs of the street
NEIGHBOURS = "neighbours"  # the buildings along the street


def member_names(building) -> list[str]:
    """One name per element of building.elements, in order."""
    counts: dict[tuple[int, str], int] = defaultdict(int)
    names = []
    for element in building.elements:
        key = (element.floor, element.kind)
        names.append(f"floor{element.floor:02d}/{element.kind}_{counts[key]}")
        counts[key] += 1
    return names


def part_names(building, element_of_fragment, debris_count: int) -> list[str]:
    """The name of every render part (the id pass's values): fragments, then debris chunks."""
    members = member_names(building)
    return [members[e] for e in element_of_fragment] + [DEBRIS] * debris_count
