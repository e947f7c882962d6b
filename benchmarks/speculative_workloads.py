"""The speculative-decoding benchmark's workloads: six requests, texts held here.

A code edit returning a ~100-line file, a rename across the same file, quoting from a document,
a summary of it, plain chat and an explanation with an example. The first three repeat what
the conversation holds (drafts should pay); the last three mostly do not (drafts must not cost).
"""

from __future__ import annotations

CODE = '''"""A small inventory: items, stock levels and orders."""

import json
from dataclasses import dataclass, field


@dataclass
class Item:
    name: str
    price: float
    stock: int = 0


@dataclass
class Order:
    customer: str
    lines: list = field(default_factory=list)

    def add(self, item, quantity):
        self.lines.append((item, quantity))

    def count(self):
        return sum(quantity for _item, quantity in self.lines)


def total_price(order):
    total = 0.0
    for item, quantity in order.lines:
        total += item.price * quantity
    return round(total, 2)


def discount(order, percent):
    if percent < 0 or percent > 100:
        raise ValueError("percent must be between 0 and 100")
    return round(total_price(order) * (100 - percent) / 100, 2)


def in_stock(item, quantity):
    return item.stock >= quantity


def reserve(order):
    missing = [item.name for item, quantity in order.lines if not in_stock(item, quantity)]
    if missing:
        raise RuntimeError("not enough stock for " + ", ".join(missing))
    for item, quantity in order.lines:
        item.stock -= quantity


def restock(item, quantity):
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    item.stock += quantity
    return item.stock


def cheapest(items):
    return min(items, key=lambda item: item.price)


def most_expensive(items):
    return max(items, key=lambda item: item.price)


def low_stock(items, threshold=5):
    return [item for item in items if item.stock < threshold]


def invoice(order):
    lines = []
    for item, quantity in order.lines:
        lines.append(f"{quantity} x {item.name} at {item.price:.2f}")
    lines.append(f"total: {total_price(order):.2f}")
    return "\\n".join(lines)


def save(items, path):
    data = [{"name": i.name, "price": i.price, "stock": i.stock} for i in items]
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)


def load(path):
    with open(path) as handle:
        data = json.load(handle)
    return [Item(d["name"], d["price"], d["stock"]) for d in data]


def report(items, orders):
    sold = sum(order.count() for order in orders)
    revenue = sum(total_price(order) for order in orders)
    return {
        "items": len(items),
        "sold": sold,
        "revenue": round(revenue, 2),
        "low_stock": [item.name for item in low_stock(items)],
    }
'''

DOCUMENT = """The harbour town of Kelsey Bay has changed a great deal over the last ten years. The \
old fish market closed in 2015, and the building stood empty until a group of local families \
bought it. They paid 240,000 dollars for the building and spent another 90,000 dollars on a new \
roof and windows. Today it holds a bakery, a bicycle workshop and a small library that opens \
three evenings a week. The ferry to the island still leaves twice a day, although the timetable \
changes in winter. A return ticket now costs 18 dollars, which many residents say is too much \
for a trip of forty minutes. The town council has promised to look at a cheaper fare for \
students and for people over sixty-five. In the summer the beach fills with visitors from the \
city, and the car park is full by ten in the morning. The council collected 65,000 dollars in \
parking fees last year and plans to spend part of it on a new footpath along the cliffs. Not \
everyone agrees with the plan; some people would rather see the money go to the primary school, \
whose roof leaks in heavy rain. The school has sixty pupils and four teachers. Its head teacher \
says that a repair would cost about 30,000 dollars and that the work could be done during the \
summer holidays. Meanwhile the lighthouse on the point has been turned into a small museum, \
run by volunteers, where visitors can climb the spiral stairs and look out over the bay."""

WORKLOADS: dict[str, str] = {
    # the file first: SmolLM2-135M then answers with code rather than a description of it
    "edit": f"```python\n{CODE}```\n\nRewrite this module with type hints on every function. "
            "Output the complete file.",
    "rename": f"```python\n{CODE}```\n\nRename total_price to order_total in the code above "
              "and output the complete code.",
    "quote": "Copy, word for word, every sentence of this document that mentions money.\n\n"
             + DOCUMENT,
    "summary": "Summarize this document in one paragraph.\n\n" + DOCUMENT,
    "chat": "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "explain": "Explain what a Python decorator is, with a short example.",
}
COPYING = ("edit", "rename", "quote")  # the workloads that repeat the conversation

# Short prompts of every kind for the divergence study (with the six above: 24 prompts)
MORE_PROMPTS = (
    "What is the capital of France?",
    "List five fruits that are red.",
    "Write a haiku about autumn leaves.",
    "How do I reverse a list in Python?",
    "Explain photosynthesis to a ten-year-old.",
    "Give me three tips for sleeping better.",
    "Translate 'good morning, how are you?' into French.",
    "What is the difference between a list and a tuple in Python?",
    "Write a limerick about a cat who likes to cook.",
    "Describe the water cycle in four sentences.",
    "Write a Python function that checks whether a number is prime.",
    "What are the planets of the solar system, in order?",
    "Suggest a name for a bakery that sells only bread.",
    "Why is the sky blue?",
    "Write an email asking a colleague to move a meeting to Friday.",
    "Explain recursion with a short example in Python.",
    "What should I pack for a weekend of hiking?",
    "Summarize the plot of Romeo and Juliet in three sentences.",
)
