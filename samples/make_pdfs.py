"""Generate the two PDF documents of the ragkit demo corpus.

Run from the repository root:

    python samples/make_pdfs.py

Requires ``fpdf2`` (tested with fpdf2 2.8.9), e.g. in a throwaway venv:

    python3 -m venv /tmp/samples-venv
    /tmp/samples-venv/bin/pip install fpdf2==2.8.9
    /tmp/samples-venv/bin/python samples/make_pdfs.py

It writes ``corpus/clinic-handbook.pdf`` and ``corpus/office-lease.pdf`` next to this
script. The text of both documents lives in this file. Each section is
rendered on its own page (explicit page break), so a topic's page number is
fixed and ``samples/questions.jsonl`` can refer to it. The script aborts if a
section overflows onto a second page. Output is deterministic: the creation
date is fixed and the PDF /ID is derived from the content.

All content is fictional and written for ragkit. Keep the text plain ASCII
(the core Helvetica font only covers latin-1): no curly quotes, no dashes
other than "-".
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF

HERE = Path(__file__).resolve().parent
CREATION_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)

# A document is a title plus a list of pages. A page is (heading, blocks);
# a block is a paragraph string, or a list of strings rendered as bullets.

CLINIC_TITLE = "Riverbend Family Clinic - Staff Handbook"
CLINIC_PAGES = [
    (
        "1. Opening Hours and Appointments",
        [
            "Riverbend Family Clinic is a small family practice at 48 Millrace "
            "Road, Riverbend, with three physicians, one nurse practitioner and "
            "four nurses caring for about 5,800 registered patients. This "
            "handbook applies to all clinical and front-desk staff. If this "
            "handbook and a written instruction from the medical director "
            "disagree, follow the medical director and tell the practice "
            "manager so that the handbook can be corrected.",
            "Opening hours:",
            [
                "Monday to Thursday: 8:00 a.m. to 6:30 p.m.",
                "Friday: 8:00 a.m. to 4:00 p.m.",
                "Saturday: 9:00 a.m. to 12:30 p.m., walk-in clinic only, no "
                "booked appointments.",
                "Sundays and public holidays: closed. The answering service "
                "directs callers to the Riverbend Urgent Care Centre or to 911.",
            ],
            "Staff arrive 20 minutes before opening. The front desk opens the "
            "telephone line at 7:45 a.m. on weekdays, and all same-day "
            "appointment slots are released at that time. Same-day slots are "
            "never booked in advance, not even for regular patients.",
            "Appointment types:",
            [
                "Standard appointment: 15 minutes, for one problem.",
                "Long appointment: 30 minutes, for new patients, annual "
                "physicals, mental health reviews and patients with more than "
                "two problems.",
                "Procedure appointment: 45 minutes, for minor surgery, IUD "
                "insertion and joint injections. Booked on afternoons only.",
                "Telephone consultation: 10 minutes, booked at the end of the "
                "clinician's morning session.",
            ],
            "Late arrivals: a patient who is more than 10 minutes late for a "
            "standard appointment may be asked to rebook. The clinician makes "
            "that decision, not the front desk. Never send away a child under "
            "2 years old or anyone who looks unwell; ask the triage nurse to "
            "see them first.",
            "Cancellations and missed appointments: patients are asked to "
            "cancel at least 24 hours ahead. A missed appointment without "
            "notice is recorded as a no-show in the scheduling system. After "
            "the third no-show in 12 months the patient receives a reminder "
            "letter, and a $35 missed-appointment fee applies to each further "
            "no-show. Only the practice manager, Marisol Okafor, may waive the "
            "fee.",
        ],
    ),
    (
        "2. Medication Refills and Controlled Substances",
        [
            "Routine refills: patients request refills through their "
            "pharmacy, the patient portal, or the refill voicemail line "
            "(option 4 on the main menu). Refill requests are processed within "
            "3 business days. Remind patients not to wait until the last "
            "tablet before asking.",
            [
                "A refill is approved only if the patient has been seen for "
                "that condition in the last 12 months. Otherwise the clinician "
                "may give a one-time bridging supply of up to 30 days, and the "
                "front desk books an appointment before that supply runs out.",
                "Nurses may approve refills on the standing-order list "
                "(blood pressure medicines, statins, thyroid replacement and "
                "asthma inhalers). All other requests go to the prescribing "
                "clinician's task list.",
                "We do not accept drug samples from pharmaceutical "
                "representatives.",
            ],
            "Controlled substances (opioids, benzodiazepines and stimulants):",
            [
                "Never renewed by telephone, fax or portal message. Every "
                "prescription requires a visit, in person or by video.",
                "The maximum supply per prescription is 28 days.",
                "Patients on long-term controlled medicines sign a controlled "
                "substance agreement, which is reviewed every 6 months.",
                "The prescriber checks the Prescription Monitoring Program "
                "before every prescription and records the check in the chart.",
                "Lost or stolen prescriptions are not replaced without a "
                "police report and a review by the prescribing physician.",
            ],
            "Storage and counts: the clinic keeps a small stock of controlled "
            "drugs for procedures in the double-locked cabinet in the "
            "medication room (Room 6). There are two keys: one is carried by "
            "the charge nurse on duty and the other is kept in the medical "
            "director's safe. At closing time every day, two licensed staff "
            "members count the stock together and sign the Controlled Drug "
            "Register, the green binder kept in the cabinet.",
            "Any discrepancy in the count, even a single tablet, must be "
            "reported to the medical director, Dr. Helen Achterberg, before "
            "the staff members leave the building. Do not correct the "
            "register yourself. Expired controlled drugs are bagged, labelled "
            "and kept on the bottom shelf of the cabinet until they are "
            "destroyed in a witnessed take-back.",
        ],
    ),
    (
        "3. Vaccinations and Cold-Chain Storage",
        [
            "Vaccine clinics run on Tuesday and Thursday afternoons from 1:30 "
            "to 4:30 p.m. Walk-in influenza vaccination starts on the first "
            "Monday of October each year and continues while stock lasts. "
            "Childhood vaccines follow the national schedule, with visits at "
            "2, 4, 6, 12 and 18 months and again at 4 to 6 years. Reminder "
            "letters are sent 2 weeks before each due date. All patients wait "
            "in the waiting room for 15 minutes after any vaccination.",
            "Refrigerator: vaccines are stored only in the pharmaceutical "
            "refrigerator in Room 5, never in a household or kitchen fridge. "
            "The refrigerator must stay between 2 and 8 degrees Celsius (36 to "
            "46 degrees Fahrenheit). Aim for 5 degrees Celsius. Varicella "
            "vaccine is kept in the separate vaccine freezer, between -50 and "
            "-15 degrees Celsius.",
            "Temperature monitoring: a digital data logger with a buffered "
            "probe records the temperature every 5 minutes and sends an alarm "
            "text to the on-call nurse. In addition, staff read the current, "
            "minimum and maximum temperatures twice a day, at opening and "
            "again at 3:00 p.m., write them on the cold-chain log sheet on the "
            "refrigerator door, and then reset the minimum and maximum. Log "
            "sheets are kept for 3 years.",
            "Temperature excursion: if any reading is outside the range, do "
            "not throw vaccines away and do not give them. Label the shelves "
            "DO NOT USE - EXCURSION, leave the vaccines in the refrigerator, "
            "write down the time and the temperatures, and call the vaccine "
            "coordinator, Jonah Feld. He contacts the manufacturers and public "
            "health, who decide whether the doses can still be used.",
            "Stock handling:",
            [
                "Keep vaccines in their original boxes, at least 5 cm from the "
                "walls, with water bottles in the door to stabilise the "
                "temperature. No food or drink in the vaccine refrigerator.",
                "Order no more than 4 weeks of stock. Use the earliest expiry "
                "date first.",
                "Deliveries are unpacked by trained staff and placed in the "
                "refrigerator within 30 minutes of arrival.",
                "Power failure: if the power is out for more than 2 hours, move "
                "the vaccines to the validated cooler with conditioned packs "
                "and take them to Millrace Pharmacy across the road, which has "
                "agreed to hold our stock.",
            ],
        ],
    ),
    (
        "4. Patient Records and Privacy",
        [
            "Access: patient information lives in the electronic health "
            "record. Open a chart only for a patient you are caring for or "
            "for a task you have been assigned. Every access is logged, and "
            "the Privacy Officer, Priya Natarajan, reviews the access audit "
            "report every month. Looking up family members, neighbours or "
            "colleagues is a disciplinary matter.",
            [
                "Workstations lock automatically after 5 minutes without "
                "activity. Lock your screen whenever you step away.",
                "Never share your login. Printouts containing patient "
                "information go in the locked shred bin behind reception, "
                "never in the recycling.",
                "Clinical information is not sent by ordinary email; use the "
                "patient portal.",
                "On the telephone, confirm identity with two identifiers (full "
                "name and date of birth) before discussing anything. Test "
                "results are released by phone only after the patient also "
                "confirms their home address.",
            ],
            "Requests for records: a patient may ask for a copy of their own "
            "record. The request must be in writing and signed. Answer within "
            "30 calendar days. The first copy each year is free. Release to "
            "anyone else (insurers, lawyers, other clinics) requires the "
            "patient's signed authorisation form, except for direct transfers "
            "of care between clinicians.",
            "Retention of records:",
            [
                "Adult patients: 10 years after the last visit.",
                "Patients who were minors when last seen: until the patient's "
                "28th birthday, or 10 years after the last visit, whichever is "
                "later.",
                "Deceased patients: 10 years after the date of death.",
                "Immunization records: kept permanently.",
                "Appointment books and scheduling logs: 2 years.",
            ],
            "When a record reaches the end of its retention period, the "
            "Privacy Officer approves its destruction and the destruction is "
            "entered in the records disposal log.",
            "Privacy breaches: a suspected breach (for example a fax to the "
            "wrong number, a lost printout, or a chart opened without reason) "
            "must be reported to the Privacy Officer on the same working day. "
            "The Privacy Officer records it in the privacy incident log and "
            "decides whether the patient and the regulator must be told.",
        ],
    ),
    (
        "5. Emergencies and Incident Reporting",
        [
            "Medical emergency inside the clinic: call out \"Code Blue\" and "
            "the room number. The nearest clinician starts care. The front "
            "desk calls 911 and sends a staff member to meet the ambulance at "
            "the side entrance on Weir Lane, which is kept clear at all times.",
            "Emergency equipment:",
            [
                "The crash cart is kept in Procedure Room 2. The charge nurse "
                "checks it every Monday morning and after every use, and "
                "records the number of the new seal on the checklist.",
                "The AED is mounted on the wall next to the water fountain in "
                "the waiting room.",
                "An anaphylaxis kit with epinephrine auto-injectors is kept in "
                "every room where vaccines are given.",
                "The portable oxygen cylinder is stored beside the crash cart "
                "and must be at least three-quarters full.",
            ],
            "Fire: pull the nearest alarm, help patients out through the "
            "nearest exit and do not use the lift. The assembly point is at "
            "the far end of the north parking lot, by the bicycle racks. The "
            "charge nurse checks every room and brings the daily appointment "
            "list so that patients can be accounted for. Fire drills are held "
            "twice a year, in April and October.",
            "Aggressive or threatening behaviour: panic buttons are fitted "
            "under the reception desk and in Consulting Rooms 1 to 3. They "
            "raise a silent alarm with the security company, which calls the "
            "police. Do not try to restrain anyone.",
            "Needlestick and sharps injuries: let the wound bleed freely, wash "
            "it with soap and running water, tell the charge nurse "
            "immediately, and be seen by occupational health within 2 hours so "
            "that post-exposure treatment can start in time.",
            "Incident reporting: every incident and near miss is reported on "
            "form IR-2, found in the Safety folder on the shared drive, within "
            "24 hours. Reports are discussed at the monthly safety meeting, "
            "held on the last Wednesday of each month. The purpose is to learn "
            "and fix systems, not to blame individuals.",
        ],
    ),
]

LEASE_TITLE = "Commercial Office Lease - Suite 410, 1200 Harbor Street"
LEASE_PAGES = [
    (
        "Article 1. Parties, Premises, Term and Rent",
        [
            "This Commercial Office Lease (the \"Lease\") is made on January "
            "12, 2026 between Pelham Quay Properties Inc. (the \"Landlord\") "
            "and Harbor Street Legal LLP, a limited liability partnership of "
            "attorneys (the \"Tenant\").",
            "1.1 Premises. The Landlord leases to the Tenant Suite 410 on the "
            "fourth floor of the Harbor Point Building, 1200 Harbor Street, "
            "Port Alden (the \"Premises\"), containing approximately 2,150 "
            "rentable square feet, together with 4 reserved parking spaces on "
            "level P1 of the building garage.",
            "1.2 Term. The term of this Lease is five (5) years, beginning on "
            "March 1, 2026 (the \"Commencement Date\") and ending on February "
            "28, 2031, unless ended earlier or renewed under this Lease. Each "
            "period of twelve months starting on March 1 is a \"Lease Year\".",
            "1.3 Base Rent. The Tenant shall pay monthly Base Rent of $6,450.00 "
            "during the first Lease Year. Base Rent increases by three percent "
            "(3%) at the start of each following Lease Year, as follows:",
            [
                "Lease Year 1 (March 2026 - February 2027): $6,450.00 per month",
                "Lease Year 2 (March 2027 - February 2028): $6,643.50 per month",
                "Lease Year 3 (March 2028 - February 2029): $6,842.81 per month",
                "Lease Year 4 (March 2029 - February 2030): $7,048.09 per month",
                "Lease Year 5 (March 2030 - February 2031): $7,259.53 per month",
            ],
            "1.4 Payment. Base Rent is payable in advance, without deduction "
            "or set-off, on the first day of each calendar month, by "
            "electronic funds transfer to the account named by the Landlord. "
            "Base Rent for the first month of the Term (March 2026) is waived "
            "as a move-in allowance.",
            "1.5 Additional Rent. In addition to Base Rent, the Tenant pays "
            "its proportionate share of 6.8% of the amount by which the "
            "building's Operating Expenses and Taxes exceed those of the base "
            "year 2026. The Landlord estimates this amount each year and the "
            "Tenant pays one twelfth of the estimate with each monthly Base "
            "Rent payment.",
            "1.6 Late Payment. If any rent is not received within 5 days "
            "after its due date, the Tenant shall pay a late charge of 4% of "
            "the overdue amount, plus interest at 1% per month from the due "
            "date until payment.",
        ],
    ),
    (
        "Article 2. Security Deposit and Insurance",
        [
            "2.1 Amount. On signing this Lease the Tenant shall pay the "
            "Landlord a security deposit of $19,350.00, equal to three months "
            "of Base Rent for the first Lease Year (the \"Security "
            "Deposit\"). The Landlord may hold the Security Deposit together "
            "with its other funds and is not required to pay interest on it.",
            "2.2 Use of the Deposit. If the Tenant fails to pay rent or "
            "otherwise breaches this Lease, the Landlord may apply all or part "
            "of the Security Deposit to cure the default. The Tenant shall "
            "restore the Security Deposit to its full amount within 10 days "
            "after written demand.",
            "2.3 Reduction. If no Event of Default has occurred during the "
            "first 24 months of the Term, the Landlord shall, at the Tenant's "
            "written request, refund part of the Security Deposit so that the "
            "amount held is reduced to $12,900.00 for the rest of the Term.",
            "2.4 Return. The Landlord shall return the Security Deposit, less "
            "any amounts properly applied under this Lease, within 60 days "
            "after the end of the Term and the surrender of the Premises in "
            "the condition required by Article 3. Any deduction shall be "
            "explained in an itemized written statement.",
            "2.5 Letter of Credit. Instead of cash, the Tenant may provide the "
            "Security Deposit as an irrevocable standby letter of credit "
            "issued by a bank reasonably acceptable to the Landlord, valid "
            "until at least 90 days after the end of the Term.",
            "2.6 Tenant's Insurance. From the Commencement Date the Tenant "
            "shall maintain, at its own cost:",
            [
                "commercial general liability insurance of not less than "
                "$2,000,000 per occurrence, naming the Landlord as an "
                "additional insured;",
                "property insurance covering the Tenant's furniture, "
                "equipment, files and improvements for their full replacement "
                "cost; and",
                "business interruption insurance covering at least 6 months of "
                "rent.",
            ],
            "The Tenant shall deliver certificates of insurance to the "
            "Landlord before the Commencement Date and on each renewal of the "
            "policies. Professional liability insurance for the Tenant's legal "
            "practice is the Tenant's own concern and is not required by this "
            "Lease.",
            "2.7 Landlord's Insurance. The Landlord insures the Building, "
            "including the base building systems and the common areas, for "
            "its full replacement cost. The cost of that insurance is an "
            "Operating Expense.",
        ],
    ),
    (
        "Article 3. Use, Maintenance and Repairs",
        [
            "3.1 Use. The Premises shall be used only as general offices for "
            "the practice of law and related administrative work, and for no "
            "retail or other purpose.",
            "3.2 Landlord's Obligations. The Landlord shall maintain and "
            "repair, as part of Operating Expenses, the roof, foundations, "
            "structure and exterior walls of the Building, the common areas, "
            "the elevators, the base building heating, ventilation and air "
            "conditioning (HVAC) system, and the plumbing and electrical "
            "systems up to the point where they enter the Premises.",
            "3.3 Tenant's Obligations. The Tenant shall keep the interior of "
            "the Premises in good repair at its own cost, including interior "
            "walls, doors and locks, floor coverings, paint, light bulbs, "
            "fixtures installed by the Tenant, and the supplemental air "
            "conditioning unit serving the Tenant's server closet.",
            "3.4 Repair Requests. The Tenant shall report repairs through the "
            "building management portal or to the property manager, Gordon "
            "Ashby, at the management office in the lobby. For emergencies "
            "(water leaks, loss of power, failure of locks or other security "
            "systems) the Landlord shall respond within 2 hours, at any time of "
            "day or night, through the emergency line. Other repairs shall be "
            "started within 5 business days after the request.",
            "3.5 HVAC Hours. The Landlord provides HVAC service to the "
            "Premises Monday to Friday from 7:00 a.m. to 7:00 p.m. and on "
            "Saturday from 8:00 a.m. to 1:00 p.m., except public holidays. "
            "After-hours HVAC is available at a charge of $55 per hour, with a "
            "minimum of 2 hours, if requested by 3:00 p.m. on the same "
            "business day.",
            "3.6 Alterations. The Tenant shall make no alterations to the "
            "Premises without the Landlord's prior written consent, except "
            "cosmetic alterations such as painting and carpeting costing less "
            "than $7,500 in total in any Lease Year, which require only 10 "
            "days' prior written notice. All contractors working in the "
            "Building must be licensed and insured.",
            "3.7 Cleaning. The Landlord provides janitorial cleaning of the "
            "Premises five nights per week, Monday to Friday. Shredding of the "
            "Tenant's confidential papers is not included.",
            "3.8 Surrender. At the end of the Term the Tenant shall return the "
            "Premises broom-clean and in good repair, reasonable wear and tear "
            "excepted, and shall remove all data and telephone cabling it has "
            "installed.",
        ],
    ),
    (
        "Article 4. Subletting, Animals, Renewal, Termination and Notices",
        [
            "4.1 Assignment and Subletting. The Tenant shall not assign this "
            "Lease or sublet all or part of the Premises without the "
            "Landlord's prior written consent, which shall not be "
            "unreasonably withheld. The Landlord shall answer a request for "
            "consent within 15 business days. The Tenant shall pay the "
            "Landlord 50% of any net profit it receives from a sublease. The "
            "Tenant may, without consent, share the Premises with up to 2 "
            "attorneys who are of counsel to the Tenant.",
            "4.2 Animals. No animals or pets of any kind may be kept in or "
            "brought into the Premises or the Building, except service animals "
            "assisting a person with a disability. Aquariums larger than 10 "
            "gallons are not permitted.",
            "4.3 Option to Renew. The Tenant has one option to renew this "
            "Lease for a further term of five (5) years at the then fair "
            "market rent, by written notice given not less than 9 months "
            "before the end of the Term.",
            "4.4 Early Termination. The Tenant may end this Lease on February "
            "28, 2029 by giving at least 6 months' prior written notice and "
            "paying, together with the notice, a termination fee equal to 4 "
            "months of the Base Rent then in effect plus the unamortized "
            "leasing commissions.",
            "4.5 Default. If the Tenant fails to pay rent within 10 days after "
            "written notice of non-payment, or fails to cure any other breach "
            "within 30 days after written notice, the Landlord may end this "
            "Lease and recover its damages.",
            "4.6 Holding Over. If the Tenant stays in the Premises after the "
            "end of the Term without a new agreement, it shall pay 150% of "
            "the last monthly Base Rent for each month of holding over.",
            "4.7 Notices. Notices under this Lease must be in writing and "
            "delivered by hand, by courier or by registered mail: to the "
            "Landlord at 88 Quayside Avenue, Suite 200, Port Alden; and to the "
            "Tenant at the Premises, attention of the Managing Partner. A "
            "notice is given when delivered. Email alone is not valid notice.",
            "Signed for the Landlord, Pelham Quay Properties Inc., by Rosalind "
            "Pelham, President. Signed for the Tenant, Harbor Street Legal "
            "LLP, by Eleanor Vance, Managing Partner.",
        ],
    ),
]


class Document(FPDF):
    """Letter-size PDF with a running title header and a page footer."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="Letter")
        self.doc_title = title
        self.set_margins(left=22, top=20, right=22)
        # Each section must fit on its page; overflow is detected in build().
        self.set_auto_page_break(auto=True, margin=20)
        self.set_creation_date(CREATION_DATE)
        self.set_title(title)
        self.set_author("ragkit demo corpus (fictional)")
        self.set_creator("samples/make_pdfs.py")
        self.set_lang("en")

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.doc_title, align="L")
        self.ln(10)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def build(title: str, pages: list, out: Path) -> None:
    pdf = Document(title)
    for number, (heading, blocks) in enumerate(pages, start=1):
        pdf.add_page()  # explicit page break: one section per page
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        for block in blocks:
            if isinstance(block, str):
                pdf.set_font("Helvetica", "", 10.5)
                pdf.multi_cell(0, 5.2, block, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2.2)
            else:
                pdf.set_font("Helvetica", "", 10.5)
                for item in block:
                    pdf.set_x(pdf.l_margin + 4)
                    pdf.cell(5, 5.2, "-")
                    pdf.multi_cell(0, 5.2, item, new_x="LMARGIN", new_y="NEXT")
                    pdf.ln(0.8)
                pdf.ln(1.4)
        if pdf.page_no() != number:
            raise SystemExit(f"{out.name}: section {heading!r} overflows its page")
    pdf.output(str(out))
    print(f"wrote {out.relative_to(HERE.parent)} ({pdf.page_no()} pages)")


def main() -> None:
    build(CLINIC_TITLE, CLINIC_PAGES, HERE / "corpus" / "clinic-handbook.pdf")
    build(LEASE_TITLE, LEASE_PAGES, HERE / "corpus" / "office-lease.pdf")


if __name__ == "__main__":
    main()
