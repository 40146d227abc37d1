"""Roundcube's Filters and Out-of-Office tabs (its managesieve plugin), driven in headless
Chromium through chromedriver, as a user would click them: log in, create a filter "subject
contains invoice -> Invoices" (after creating
that folder), turn on a vacation reply, and read the script list back.

Usage: roundcube_sieve.py URL USER PASSWORD SHOTS_DIR   (system Python: python3-selenium)
Prints "filter saved", "vacation saved" and the scripts' names; a failure leaves a screenshot
and the page source in SHOTS_DIR.
"""
import sys
import traceback

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

url, user, password, shots = sys.argv[1:5]

options = webdriver.ChromeOptions()
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1400,1000"):
    options.add_argument(arg)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                          options=options)
wait = WebDriverWait(driver, 30)


def shot(name):
    driver.save_screenshot(f"{shots}/{name}.png")
    with open(f"{shots}/{name}.html", "w") as f:
        f.write(driver.page_source)


def confirmation(text):
    """Waits for Roundcube's message bar to say `text` (it says errors the same way)."""
    def said(d):
        return d.execute_script(
            "var s = document.getElementById('messagestack'); return s ? s.innerText : '';")
    wait.until(lambda d: text in said(d) or "rror" in said(d))
    bar = said(driver)
    assert text in bar, bar
    return bar.strip()


step = "login"
try:
    driver.get(url)
    wait.until(ec.presence_of_element_located((By.ID, "rcmloginuser"))).send_keys(user)
    driver.find_element(By.ID, "rcmloginpwd").send_keys(password)
    driver.find_element(By.ID, "rcmloginsubmit").click()
    wait.until(ec.presence_of_element_located((By.ID, "mailboxlist")))

    # Settings > Folders > Create: the folder the filter will file into.
    step = "folder"
    driver.get(url + "?_task=settings&_action=folders")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.create"))).click()
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.ID, "preferences-frame")))
    wait.until(ec.presence_of_element_located((By.ID, "_name"))).send_keys("Invoices")
    driver.find_element(By.CSS_SELECTOR, "button.submit").click()
    driver.switch_to.default_content()
    print(confirmation("Folder created successfully"), flush=True)

    # Settings > Filters > Create: the form opens in the preferences frame.
    step = "filters"
    driver.get(url + "?_task=settings&_action=plugin.managesieve")
    wait.until(ec.presence_of_element_located((By.ID, "filterslist")))
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.create"))).click()
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.ID, "filter-box")))
    wait.until(ec.presence_of_element_located((By.NAME, "_name"))).send_keys("Invoices")
    Select(driver.find_element(By.ID, "header0")).select_by_value("subject")
    Select(driver.find_element(By.ID, "rule_op0")).select_by_value("contains")
    # The value list widget: one text input per value under #rule_target0_list.
    driver.find_element(By.CSS_SELECTOR, "#rule_target0_list input").send_keys("invoice")
    Select(driver.find_element(By.ID, "action_type0")).select_by_value("fileinto")
    Select(driver.find_element(By.ID, "action_mailbox0")).select_by_value("Invoices")
    step = "filter save"
    driver.find_element(By.CSS_SELECTOR, "button.submit").click()
    driver.switch_to.default_content()
    print(confirmation("Filter saved successfully"), flush=True)
    print("filter saved", flush=True)

    # Settings > Out of Office.
    step = "vacation"
    driver.get(url + "?_task=settings&_action=plugin.managesieve-vacation")
    wait.until(ec.presence_of_element_located((By.ID, "vacation_subject"))).send_keys(
        "Away until Monday")
    driver.find_element(By.ID, "vacation_reason").send_keys(
        "I am out of the office and will answer when I am back.")
    Select(driver.find_element(By.ID, "vacation_status")).select_by_value("on")
    step = "vacation save"
    driver.find_element(By.CSS_SELECTOR, "button.submit").click()
    print(confirmation("Out-of-office data saved successfully"), flush=True)
    print("vacation saved", flush=True)
except Exception:
    shot(step.replace(" ", "-"))
    traceback.print_exc()
    print(f"failed at {step}", flush=True)
    sys.exit(1)
finally:
    driver.quit()
