"""Synthetic citizens shared by the simulators, emulators and the reference backend.

Invented names and addresses; ID numbers are generated with a valid GB 11643 check
digit from the Dongguan region code and invented birth dates and sequence numbers.
They stand for "the cards that exist in the world" and "the platform's database";
no real person's data is used anywhere.
"""
