"""Built-in fallback material, used when the shared data folder is absent.

Everything here was written for this project (no dataset rows are copied). It is deliberately
small: enough to keep every archetype and tactic working, not to be realistic at scale. The
real-data loaders in :mod:`streamer.sim.data` replace each piece when its file is available.

>>> len(CHAT) > 10 and len(MATH) > 5
True
"""

from __future__ import annotations

CHAT: tuple[str, ...] = (
    "Can you help me write a polite email asking my landlord to fix the heating?",
    "Explain the difference between a Roth IRA and a traditional IRA in simple terms.",
    "Give me a 3-day itinerary for Lisbon on a modest budget.",
    "What are some good names for a bakery that sells sourdough?",
    "Summarise the plot of Pride and Prejudice in five sentences.",
    "How do I politely decline a meeting invitation from my manager?",
    "Write a short birthday poem for my grandmother who loves gardening.",
    "What is the best way to learn Spanish verbs quickly?",
    "Translate 'where is the train station' into German and French.",
    "My sourdough starter smells like acetone, is it dead?",
    "Draft a LinkedIn post announcing that I started a new job as a data analyst.",
    "Compare electric and gas stoves for a small apartment.",
    "Why does my tomato plant have yellow leaves at the bottom?",
    "Suggest a weekly workout plan for a beginner with 30 minutes a day.",
)
CODE_CHAT: tuple[str, ...] = (
    "Why does this Python code raise KeyError: data['user']['id'] when the JSON has no user?",
    "Write a SQL query that returns the top 5 customers by total order value last month.",
    "How do I debounce an input field in React with hooks?",
    "Refactor this to avoid nested loops: for a in xs: for b in ys: if a == b: out.append(a)",
    "What does 'cannot borrow as mutable more than once' mean in Rust?",
    "Write a bash one-liner that finds the 10 largest files under the current directory.",
    "Convert this callback-based Node.js function to async/await.",
    "Explain what a Python generator is with a small example.",
)
SUPPORT: tuple[str, ...] = (
    "I still have not received my new card, it has been ten days.",
    "Why was I charged a fee for a transfer to my own account?",
    "How do I change the PIN on my debit card?",
    "My payment to a merchant was declined but the money left my account.",
    "Can I top up my account with a credit card?",
    "I think someone used my card without my permission.",
    "What exchange rate do you use for payments in euros?",
    "How long does a bank transfer from abroad take to arrive?",
    "I forgot my passcode and cannot log into the app.",
    "Is there a limit on how much cash I can withdraw per day?",
)
ORDERS: tuple[tuple[str, ...], ...] = (
    ("Hi, can I get a large oat milk latte?", "Yes, for pickup please.", "That's all, thanks."),
    ("I'd like two iced americanos and a blueberry muffin.", "No sugar, thanks."),
    ("Could I order a medium chai with an extra shot?", "Name is Sam."),
    ("One hot chocolate with whipped cream please.", "Yes that's right."),
)
MATH: tuple[str, ...] = (
    "A baker makes 48 rolls and sells three quarters of them. How many rolls are left?",
    "Tom reads 12 pages a day. How many days does he need for a 300-page book?",
    "A train travels 180 km in 2.5 hours. What is its average speed in km/h?",
    "Sara buys 3 notebooks at $4 each and a pen for $2. She pays with $20. What is her change?",
    "A rectangle has a perimeter of 36 cm and a width of 7 cm. What is its area?",
    "If 5 machines make 5 widgets in 5 minutes, how long do 100 machines take for 100 widgets?",
    "A shirt costs $40 after a 20% discount. What was the original price?",
    "Mia is twice as old as Leo. In 6 years the sum of their ages will be 36. How old is Leo?",
)
REASONING: tuple[str, ...] = (
    "Where would you most likely keep a spare key? Options: under a doormat, in a river",
    "Is the claim 'penguins can fly long distances' true? Options: yes, no",
    "What do people usually do when they are cold? Options: put on a sweater, open a window, swim",
    "Is it plausible that a person can read a whole novel in one afternoon? Options: yes, no",
    "Claim: 'The Pacific is the largest ocean.' Is the claim correct? Options: yes, no",
    "Why would someone bring an umbrella on a sunny day? Options: rain forecast, fashion, both",
)
CODE_TASKS: tuple[str, ...] = (
    "Write a function that returns the n-th Fibonacci number iteratively.",
    "Implement a function that checks whether a string is a palindrome, ignoring case.",
    "Write a function that merges two sorted lists into one sorted list.",
    "Create a class representing a bank account with deposit and withdraw methods.",
    "Write a function that counts word frequencies in a text and returns the top k words.",
    'def running_max(xs: list[int]) -> list[int]:\n    """Return the running maximum."""\n',
    "Write a function that parses an ISO date string and returns the weekday name.",
    "Implement binary search over a sorted list and return the index or -1.",
)
INSTRUCTIONS: tuple[str, ...] = (
    "Rewrite the following sentence so that it is shorter and clearer.",
    "Suggest three questions to ask at the end of a job interview.",
    "Classify the tone of this review as positive, negative or mixed.",
    "Write a product description for a reusable water bottle.",
    "Turn these meeting notes into a list of action items.",
    "Explain this error message to a non-technical user.",
    "Generate a catchy title for an article about remote work.",
    "Give an analogy that explains how vaccines work.",
)

# Token-length fallbacks: (median input, sigma, median output, sigma) for a lognormal.
TOKENS_CONV = (900.0, 1.0, 180.0, 0.9)
TOKENS_CODE = (1800.0, 0.9, 25.0, 1.2)

# A 24-value hourly activity profile (local time), used when no ServeGen trace is available.
DIURNAL = (
    0.25, 0.18, 0.14, 0.12, 0.12, 0.18, 0.35, 0.65, 1.05, 1.35, 1.5, 1.55,
    1.45, 1.5, 1.55, 1.5, 1.4, 1.3, 1.2, 1.1, 0.95, 0.75, 0.5, 0.35,
)
