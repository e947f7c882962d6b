"""Replies that are regular but not loops, and loops that only count, for the loop guard.

Each regular reply is what a chat model may legitimately write: tables (a separator row, a
blank template, long tables of figures), numbered and check lists, code with repeated lines,
printed grids, a poem's refrain, a song whose chorus comes back, JSON and CSV records. The
guard must let every one of them through. ``COUNTING_LOOPS`` are replies stuck in a loop whose
only change is a counter; the guard must stop each.
"""

from __future__ import annotations

_PLANETS = [("Mercury", "4,879", 0), ("Venus", "12,104", 0), ("Earth", "12,756", 1),
            ("Mars", "6,792", 2), ("Jupiter", "142,984", 95), ("Saturn", "120,536", 146),
            ("Uranus", "51,118", 28), ("Neptune", "49,528", 16)]


def _planet_table() -> str:
    rows = "\n".join(f"| {n} | {d} km | {m} |" for n, d, m in _PLANETS)
    return "| Planet | Diameter | Moons |\n|--------|----------|-------|\n" + rows + "\n"


def _wide_separator(columns: int = 32) -> str:
    header = "| " + " | ".join(f"C{i}" for i in range(columns)) + " |\n"
    return header + "|" + "---|" * columns + "\n" + "| " + " | ".join("x" * columns) + " |\n"


def _blank_schedule() -> str:
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    head = "| Day | 8:00 | 10:00 | 12:00 | 14:00 | 16:00 |\n|---|---|---|---|---|---|\n"
    return head + "".join(f"| {d} |   |   |   |   |   |\n" for d in days)


def _numbered_list() -> str:
    fruits = ("Apple Banana Cherry Date Elderberry Fig Grape Honeydew Kiwi Lemon Mango "
              "Nectarine Orange Papaya Quince Raspberry Strawberry Tangerine Ugli Watermelon")
    return "".join(f"{i}. {f}\n" for i, f in enumerate(fruits.split(), 1))


def _checklist() -> str:
    return "".join(f"- [ ] Task {i}: review the notes\n" for i in range(1, 13))


def _switch() -> str:
    days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    cases = "".join(f"    case {i}:\n        printf(\"{d}\\n\");\n        break;\n"
                    for i, d in enumerate(days))
    return "switch (day) {\n" + cases + "    default:\n        printf(\"?\\n\");\n}\n"


def _repeated_lines() -> str:
    return ("```python\nprint(\"-\" * 40)\nprint(\"Report\")\nprint(\"-\" * 40)\n"
            + "print(\"Hello, World!\")\n" * 10 + "```\n")


def _asserts() -> str:
    return "".join(f"    assert square({i}) == {i * i}\n" for i in range(12))


def _grid(size: int = 16) -> str:
    return "Output:\n```\n" + ("0 " * size).strip().join(["", "\n"]) * size + "```\n"


def _refrain_poem() -> str:
    refrain = "And still the rain comes down, comes down,\nAnd still the rain comes down.\n\n"
    stanzas = ["The roofs are grey, the lanes are wet,\nThe gutters sing a low duet,\n",
               "The children watch from window seats,\nThe puddles fill the empty streets,\n",
               "The old dog dreams beside the fire,\nThe kettle hums, the clouds conspire,\n",
               "And when the evening lamps are lit,\nWe count the drops and think of it,\n"]
    return "".join(s + refrain for s in stanzas)


def _song() -> str:
    chorus = ("Sing along, sing along, the sun is on its way,\n"
              "Sing along, sing along, we'll dance and laugh and play!\n\n")
    verse1 = "Little bird upon the tree,\nWhat a lovely song for me,\n\n"
    verse2 = "Little cloud up in the sky,\nWave to me as you go by,\n\n"
    return "Verse 1:\n" + verse1 + "Chorus:\n" + chorus + "Verse 2:\n" + verse2 + \
        "Chorus:\n" + chorus + chorus


def _row_your_boat() -> str:
    return ("Row, row, row your boat,\nGently down the stream.\n"
            "Merrily, merrily, merrily, merrily,\nLife is but a dream.\n")


def _json_records() -> str:
    items = ",\n".join(f'  {{"id": {i}, "name": "item{i}", "price": 0.0, "stock": 0}}'
                       for i in range(10))
    return "[\n" + items + "\n]\n"


def _csv() -> str:
    return "date,open,close\n" + "".join(f"2024-01-{d:02d},100.0,100.0\n" for d in range(1, 16))


def _weather_csv() -> str:
    """Ninety days of daily weather: every row has the same shape, its figures all differ."""
    rows = []
    for day in range(90):
        month, date = divmod(day, 30)
        high = 8 + (day * 7) % 13 + (day % 5) / 10
        low = high - 4 - (day * 3) % 5
        rain = (day * 11) % 17 / 2
        rows.append(f"2024-{month + 1:02d}-{date + 1:02d},{high:.1f},{low:.1f},{rain:.1f}\n")
    return "date,high_c,low_c,rain_mm\n" + "".join(rows)


def _sales_table() -> str:
    """A markdown table of 80 weeks of sales: week, units, revenue, change."""
    head = "| Week | Units | Revenue | Change |\n|---|---|---|---|\n"
    rows = []
    for week in range(1, 81):
        units = 120 + (week * 37) % 90
        rows.append(f"| {week} | {units} | ${units * 19.5:,.2f} | {(week * 13) % 21 - 10:+d}% |\n")
    return head + "".join(rows)


_ELEMENTS = (
    "Hydrogen Helium Lithium Beryllium Boron Carbon Nitrogen Oxygen Fluorine Neon Sodium "
    "Magnesium Aluminium Silicon Phosphorus Sulfur Chlorine Argon Potassium Calcium Scandium "
    "Titanium Vanadium Chromium Manganese Iron Cobalt Nickel Copper Zinc Gallium Germanium "
    "Arsenic Selenium Bromine Krypton Rubidium Strontium Yttrium Zirconium Niobium Molybdenum "
    "Technetium Ruthenium Rhodium Palladium Silver Cadmium Indium Tin Antimony Tellurium "
    "Iodine Xenon Caesium Barium Lanthanum Cerium Praseodymium Neodymium Promethium Samarium "
    "Europium Gadolinium Terbium Dysprosium Holmium Erbium Thulium Ytterbium Lutetium Hafnium"
).split()


def _elements_list() -> str:
    """A numbered list of 72 different items."""
    return "".join(f"{i}. {name}\n" for i, name in enumerate(_ELEMENTS, 1))


def _numbers_to_100() -> str:
    return "Here are the numbers from 1 to 100:\n" + "".join(f"{i}\n" for i in range(1, 101))


def _rule_and_headings() -> str:
    return "\n".join(f"Section {i}\n" + "=" * 80 + "\nSome text here.\n" + "-" * 80
                     for i in range(1, 5))


REGULAR_REPLIES: dict[str, str] = {
    "planet table": _planet_table(),
    "wide table separator": _wide_separator(),
    "blank schedule table": _blank_schedule(),
    "numbered list": _numbered_list(),
    "checklist": _checklist(),
    "C switch": _switch(),
    "repeated code lines": _repeated_lines(),
    "asserts": _asserts(),
    "16x16 grid of zeros": _grid(),
    "poem with a refrain": _refrain_poem(),
    "song with its chorus twice": _song(),
    "row your boat": _row_your_boat(),
    "JSON records": _json_records(),
    "CSV": _csv(),
    "weather CSV, 90 days": _weather_csv(),
    "sales table, 80 weeks": _sales_table(),
    "numbered list of 72 elements": _elements_list(),
    "numbers 1 to 100": _numbers_to_100(),
    "rules under headings": _rule_and_headings(),
}

LOOPING_PHRASE = "a leaf's fate is determined, "  # SmolLM2's autumn haiku, greedy

# Loops whose only change is a counter: (the text, the tokens before it started looping)
COUNTING_LOOPS: dict[str, str] = {
    # what a 7B model wrote after a long paste, until the window was full
    "dates": "The dates are: " + "".join(f"2023-01-{day} " for day in range(20, 416, 2)),
    "steps": "".join(f"Step {i}: check the value again.\n" for i in range(1, 400)),
    "table rows": "| n | a | b |\n|---|---|---|\n"
    + "".join(f"| {i} | 0 | 0 |\n" for i in range(1, 400)),
}
