"""The web console driven in headless Chromium (chromedriver, Selenium) as admins click it:
a global admin logs in, adds a domain and a mailbox in it; a domain admin sees only their
domain and is refused another's; a POST without the form's CSRF token is refused. Then
axe-core (if given) checks each page for accessibility violations.

Usage: console.py BASE_URL SHOTS_DIR [AXE_JS]   (system Python: python3-selenium)
Prints one line per step; a failure leaves a screenshot and the page source in SHOTS_DIR.
"""
import http.cookiejar
import json
import sys
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

base, shots = sys.argv[1:3]
axe = open(sys.argv[3]).read() if len(sys.argv) > 3 else None

options = webdriver.ChromeOptions()
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1200,900"):
    options.add_argument(arg)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 20)
violations = {}


def shot(name):
    driver.save_screenshot(f"{shots}/{name}.png")
    with open(f"{shots}/{name}.html", "w") as f:
        f.write(driver.page_source)


def check_accessibility(page):
    """axe-core's serious and critical violations on the current page."""
    if axe is None:
        return
    driver.execute_script(axe)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(JSON.stringify(r.violations)));")
    bad = [v for v in json.loads(result) if v["impact"] in ("serious", "critical")]
    violations[page] = [(v["id"], v["help"]) for v in bad]


def submit(button):
    """Clicks a form's button and waits for the answer page's notice (or error): the page
    before must be gone first, or its own notice would be taken for the answer's."""
    driver.execute_script("window.beforeSubmit = true")
    button.click()
    # A new page has a new window object, without the mark.
    wait.until(lambda d: d.execute_script("return window.beforeSubmit === undefined"))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.notice, p.error")))


def login(user, password, landing="domains-heading"):
    driver.get(base + "/console/")
    wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    check_accessibility("login")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, landing)))


def logout():
    driver.find_element(By.CSS_SELECTOR, "nav button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, "username")))


step = "global admin"
try:
    # A wrong password first: refused, said so.
    driver.get(base + "/console/login")
    wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys("boss@example.com")
    driver.find_element(By.ID, "password").send_keys("wrong")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.error")))
    assert "Wrong address or password" in driver.page_source
    login("boss@example.com", "Boss-pass-42")
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(r.startswith("example.com") for r in rows), rows
    assert any(r.startswith("example.net") for r in rows), rows
    check_accessibility("dashboard")
    driver.find_element(By.ID, "domain").send_keys("newco.example")
    driver.find_element(By.XPATH, "//button[text()='Add domain']").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.notice")))
    assert "newco.example added" in driver.page_source, driver.page_source
    driver.get(base + "/console/domains/newco.example")
    wait.until(ec.presence_of_element_located((By.ID, "local"))).send_keys("ceo")
    driver.find_element(By.ID, "new-password").send_keys("Ceo-pass-123")
    driver.find_element(By.XPATH, "//button[text()='Add mailbox']").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.notice")))
    assert "ceo@newco.example added" in driver.page_source, driver.page_source
    driver.get(base + "/console/domains/newco.example")
    assert "ceo@newco.example" in driver.find_element(By.TAG_NAME, "tbody").text
    print("global admin added newco.example and ceo@newco.example")

    step = "mailbox actions"
    def act(xpath, notice):
        driver.get(base + "/console/domains/newco.example")
        submit(wait.until(ec.presence_of_element_located((By.XPATH, xpath))))
        assert notice in driver.page_source, driver.page_source
    act("//button[text()='Disable ceo@newco.example']", "ceo@newco.example disabled")
    act("//button[text()='Enable ceo@newco.example']", "ceo@newco.example enabled")
    driver.get(base + "/console/domains/newco.example")
    wait.until(ec.presence_of_element_located((By.ID, "pw-1"))).send_keys("Ceo-other-456")
    act_button = driver.find_element(By.XPATH, "//input[@id='pw-1']/following-sibling::button")
    submit(act_button)
    assert "New password set for ceo@newco.example" in driver.page_source, driver.page_source
    driver.get(base + "/console/domains/newco.example")
    driver.find_element(By.ID, "alias-local").send_keys("sales")
    driver.find_element(By.ID, "targets").send_keys("ceo@newco.example")
    submit(driver.find_element(By.XPATH, "//button[text()='Add alias']"))
    assert "Alias sales@newco.example" in driver.page_source, driver.page_source
    driver.get(base + "/console/domains/newco.example")
    check_accessibility("domain")
    driver.find_element(By.ID, "alias-local").send_keys("old")
    driver.find_element(By.ID, "targets").send_keys("ceo@newco.example")
    submit(driver.find_element(By.XPATH, "//button[text()='Add alias']"))
    act("//button[text()='Remove old@newco.example']", "old@newco.example removed")
    driver.get(base + "/console/domains/newco.example")
    assert "old@newco.example" not in driver.page_source
    assert "sales@newco.example" in driver.page_source
    driver.get(base + "/console/domains/newco.example")
    field = wait.until(ec.presence_of_element_located((By.ID, "quota-1")))
    assert field.get_attribute("value") == "none"
    field.clear(); field.send_keys("500M")
    submit(driver.find_element(By.XPATH, "//input[@id='quota-1']/following-sibling::button"))
    assert "Quota of ceo@newco.example set to 500M" in driver.page_source, driver.page_source
    driver.get(base + "/console/domains/newco.example")
    assert driver.find_element(By.ID, "quota-1").get_attribute("value") == "500.0M"
    field = driver.find_element(By.ID, "domain-quota")
    field.clear(); field.send_keys("2G")
    submit(driver.find_element(By.XPATH, "//input[@id='domain-quota']/following-sibling::button"))
    assert "Quota of newco.example set to 2G" in driver.page_source, driver.page_source
    print("mailbox disabled, enabled, given a password and a quota; alias added and removed")

    step = "domain settings"
    def fill(values):
        driver.get(base + "/console/domains/newco.example")
        for id, value in values:
            field = wait.until(ec.presence_of_element_located((By.ID, id)))
            field.clear()
            field.send_keys(value)
    fill([("limit-mailboxes", "10"), ("limit-aliases", "lots"), ("limit-maxquota", "1G")])
    submit(driver.find_element(By.XPATH, "//button[text()='Set the limits']"))
    assert "lots is not a count" in driver.page_source, driver.page_source
    fill([("limit-mailboxes", "10"), ("limit-aliases", "20"), ("limit-maxquota", "1G")])
    submit(driver.find_element(By.XPATH, "//button[text()='Set the limits']"))
    assert "Limits of newco.example: 10 mailboxes, 20 aliases" in driver.page_source, \
        driver.page_source
    driver.get(base + "/console/domains/newco.example")
    assert driver.find_element(By.ID, "limit-mailboxes").get_attribute("value") == "10"
    fill([("alias-domain-name", "newco.test")])
    submit(driver.find_element(By.XPATH, "//button[text()='Add alias domain']"))
    assert "newco.test is now an alias domain of newco.example" in driver.page_source, \
        driver.page_source
    fill([("alias-domain-name", "old-newco.test")])
    submit(driver.find_element(By.XPATH, "//button[text()='Add alias domain']"))
    act("//button[text()='Remove old-newco.test']", "Alias domain old-newco.test removed")
    driver.get(base + "/console/domains/newco.example")
    Select(driver.find_element(By.ID, "pop3-1")).select_by_value("keep")
    submit(driver.find_element(By.XPATH, "//select[@id='pop3-1']/following-sibling::button"))
    assert "POP3 policy of ceo@newco.example set to keep" in driver.page_source, \
        driver.page_source
    driver.get(base + "/console/domains/newco.example")
    chosen = Select(driver.find_element(By.ID, "pop3-1")).first_selected_option
    assert chosen.get_attribute("value") == "keep"
    assert "newco.test" in driver.find_element(By.ID, "alias-domains-heading").find_element(
        By.XPATH, "..").text
    check_accessibility("domain")
    print("domain limits, alias domain and pop3 policy set")

    step = "dns"
    driver.get(base + "/console/domains/example.com")
    wait.until(ec.element_to_be_clickable((By.LINK_TEXT, "DNS records and their check"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "records-heading")))
    records = driver.find_element(By.TAG_NAME, "pre").text
    for name in ("mail._domainkey.example.com.", "_dmarc.example.com.", "_mta-sts.example.com.",
                 "autoconfig.example.com."):
        assert name in records, records
    assert "example.com: no MX record" in driver.page_source, driver.page_source
    check_accessibility("dns")
    print("dns records shown and checked")

    step = "queue"
    driver.get(base + "/console/")
    # The dashboard's summary: the waiting message, the ban, the failed login of the start.
    assert driver.find_element(By.ID, "queued").text == "1", driver.page_source
    assert driver.find_element(By.ID, "bans").text == "1", driver.page_source
    assert int(driver.find_element(By.ID, "failed-logins").text) >= 1, driver.page_source
    assert driver.find_elements(By.TAG_NAME, "meter"), driver.page_source
    wait.until(ec.element_to_be_clickable((By.LINK_TEXT, "Outbound queue"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "queue-heading")))
    check_accessibility("queue")
    rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 1 and "far@remote.example" in rows[0].text, [r.text for r in rows]
    queued = rows[0].find_element(By.TAG_NAME, "td").text
    def queue_action(action, notice):
        driver.get(base + "/console/queue")
        submit(wait.until(ec.presence_of_element_located(
            (By.XPATH, f"//button[text()='{action} {queued}']"))))
        assert notice in driver.page_source, driver.page_source
    queue_action("hold", "is on hold")
    driver.get(base + "/console/queue")
    assert "hold" in driver.find_element(By.CSS_SELECTOR, "tbody tr").text
    queue_action("release", "released")
    queue_action("remove", "removed")
    driver.get(base + "/console/queue")
    assert "The queue is empty" in driver.page_source

    step = "bans"
    driver.get(base + "/console/")
    wait.until(ec.element_to_be_clickable((By.LINK_TEXT, "Banned addresses"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "bans-heading")))
    assert "192.0.2.7/32" in driver.page_source and "test ban" in driver.page_source
    check_accessibility("bans")
    submit(driver.find_element(By.XPATH, "//button[text()='Lift 192.0.2.7/32']"))
    assert "192.0.2.7/32 is lifted" in driver.page_source, driver.page_source
    print("ban lifted")

    step = "log of changes"
    driver.get(base + "/console/")
    wait.until(ec.element_to_be_clickable((By.LINK_TEXT, "Log of changes"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "log-heading")))
    rows = [[td.text for td in r.find_elements(By.TAG_NAME, "td")]
            for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr")]
    actions = [r[3] for r in rows]
    # Newest first: the ban lifted last; the CLI's changes that set the server up first.
    assert actions[0] == "ban lifted" and "domain added" in actions, rows
    assert actions[-1] == "domain add" and rows[-1][1].startswith("CLI ("), rows
    assert ["boss@example.com (127.0.0.1)", "newco.example", "mailbox added",
            "Mailbox ceo@newco.example added."] in [r[1:] for r in rows], rows
    assert any(a.startswith("queue ") for a in actions), rows
    # The CLI's ban of the test's start is there too.
    assert ["CLI (", "", "ban added"] in [[r[1][:5], r[2], r[3]] for r in rows], rows
    check_accessibility("log")
    print("log of changes shown")

    step = "tokens"
    driver.get(base + "/console/")
    wait.until(ec.element_to_be_clickable((By.LINK_TEXT, "API tokens"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "token-name"))).send_keys("deploy")
    driver.find_element(By.ID, "token-write").click()
    submit(driver.find_element(By.XPATH, "//button[text()='Make a token']"))
    assert 'Token "deploy" made' in driver.page_source, driver.page_source
    token = driver.find_element(By.ID, "new-token").text
    check_accessibility("tokens")
    request = urllib.request.Request(base + "/api/domains",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as r:
        assert r.status == 200 and "newco.example" in r.read().decode()
    token_id = token.split("_")[1]
    # A second one, revoked: it no longer opens the API.
    driver.find_element(By.ID, "token-name").send_keys("old script")
    submit(driver.find_element(By.XPATH, "//button[text()='Make a token']"))
    old = driver.find_element(By.ID, "new-token").text
    submit(driver.find_element(By.XPATH, f"//button[text()='Revoke {old.split('_')[1]}']"))
    assert "revoked" in driver.page_source, driver.page_source
    try:
        urllib.request.urlopen(urllib.request.Request(
            base + "/api/domains", headers={"Authorization": f"Bearer {old}"}))
        raise AssertionError("a revoked token was taken")
    except urllib.error.HTTPError as e:
        assert e.code == 401, e.code
    print("token made in the console opens the API; a revoked one does not")
    logout()
    print(f"queued {queued} held, released and removed")

    step = "domain admin"
    login("postmaster@example.net", "Net-pass-42")
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert len(rows) == 1 and rows[0].startswith("example.net"), rows
    assert not driver.find_elements(By.ID, "domain"), "a domain admin has no add-domain form"
    driver.get(base + "/console/domains/example.net")
    assert not driver.find_elements(By.ID, "domain-quota"), "nor a domain quota form"
    driver.get(base + "/console/queue")
    assert "for global administrators" in driver.page_source
    driver.get(base + "/console/domains/example.com")
    assert "No such domain among yours" in driver.page_source
    assert "alice@example.com" not in driver.page_source
    driver.get(base + "/console/log")
    wait.until(ec.presence_of_element_located((By.ID, "log-heading")))
    # The CLI's changes to example.net, none of example.com's or newco.example's.
    domains = {td.text for td in driver.find_elements(By.CSS_SELECTOR, "tbody td:nth-child(3)")}
    assert domains == {"example.net"}, driver.page_source
    # Nor the global admin's tokens.
    driver.get(base + "/console/tokens")
    wait.until(ec.presence_of_element_located((By.ID, "tokens-heading")))
    assert token_id not in driver.page_source, driver.page_source
    print("domain admin sees only example.net")

    step = "french"
    driver.get(base + "/console/")
    driver.find_element(By.LINK_TEXT, "Français").click()
    wait.until(ec.presence_of_element_located((By.ID, "domains-heading")))
    assert driver.execute_script("return document.documentElement.lang") == "fr"
    assert driver.find_element(By.ID, "domains-heading").text == "Domaines"
    check_accessibility("french")
    driver.get(base + "/console/domains/example.com")
    assert "Ce domaine n'est pas parmi les vôtres." in driver.page_source, driver.page_source
    driver.get(base + "/console/domains/example.net")
    wait.until(ec.presence_of_element_located((By.ID, "local"))).send_keys("bob")
    driver.find_element(By.ID, "new-password").send_keys("court")
    driver.execute_script("document.getElementById('new-password').removeAttribute('minlength')")
    submit(driver.find_element(By.XPATH, "//button[text()='Ajouter la boîte']"))
    assert "Le mot de passe doit avoir 8 caractères au moins." in driver.page_source
    driver.find_element(By.LINK_TEXT, "English").click()
    wait.until(ec.presence_of_element_located((By.ID, "domains-heading")))
    assert driver.find_element(By.ID, "domains-heading").text == "Domains"
    logout()
    print("french pages and messages")

    step = "user"
    login("alice@example.com", "secret", landing="password-heading")
    assert "messages" in driver.find_element(By.ID, "usage-heading").find_element(
        By.XPATH, "..").text
    check_accessibility("account")
    driver.get(base + "/console/")  # an admin page: a user is sent back to their own
    wait.until(ec.presence_of_element_located((By.ID, "password-heading")))
    driver.find_element(By.ID, "current").send_keys("secret")
    driver.find_element(By.ID, "new-password").send_keys("Alice-new-pass-1")
    driver.find_element(By.ID, "repeat").send_keys("Alice-new-pass-1")
    submit(driver.find_element(By.XPATH, "//button[text()='Change password']"))
    assert "Your password is changed" in driver.page_source, driver.page_source
    driver.find_element(By.ID, "forward-to").send_keys("bob@example.com")
    assert driver.find_element(By.ID, "keep").is_selected()
    submit(driver.find_element(By.XPATH, "//button[text()='Save forwarding']"))
    assert "Your mail goes to bob@example.com" in driver.page_source, driver.page_source
    assert driver.find_element(By.ID, "forward-to").get_attribute("value") == "bob@example.com"
    print("alice changed her password and forwards to bob")

    step = "self-service"
    driver.find_element(By.ID, "app-name").send_keys("Thunderbird")
    driver.find_element(By.ID, "app-current").send_keys("wrong-password")
    submit(driver.find_element(By.XPATH, "//button[text()='Make an app password']"))
    assert "The current password is wrong" in driver.page_source, driver.page_source
    driver.find_element(By.ID, "app-name").send_keys("Thunderbird")
    driver.find_element(By.ID, "app-current").send_keys("Alice-new-pass-1")
    submit(driver.find_element(By.XPATH, "//button[text()='Make an app password']"))
    assert 'App password "Thunderbird" made' in driver.page_source, driver.page_source
    secret = driver.find_element(By.ID, "new-app-password").text
    assert len(secret) == 20, secret
    check_accessibility("account")
    # A second one, revoked.
    driver.find_element(By.ID, "app-name").send_keys("Old phone")
    driver.find_element(By.ID, "app-current").send_keys("Alice-new-pass-1")
    submit(driver.find_element(By.XPATH, "//button[text()='Make an app password']"))
    submit(driver.find_element(By.XPATH, "//button[text()='Revoke Old phone']"))
    assert 'App password "Old phone" revoked' in driver.page_source, driver.page_source
    assert "Thunderbird" in driver.find_element(By.TAG_NAME, "tbody").text
    # The out-of-office reply, then the spam threshold.
    driver.find_element(By.ID, "away-on").click()
    driver.find_element(By.ID, "away-subject").send_keys("Away this week")
    driver.find_element(By.ID, "away-body").send_keys("Back on Monday.")
    days = driver.find_element(By.ID, "away-days")
    days.clear()
    days.send_keys("1")
    submit(driver.find_element(By.XPATH, "//button[text()='Save the reply']"))
    assert "Your out-of-office reply is on" in driver.page_source, driver.page_source
    assert driver.find_element(By.ID, "away-on").is_selected()
    assert driver.find_element(By.ID, "away-subject").get_attribute("value") == "Away this week"
    driver.find_element(By.ID, "spam-score").send_keys("abc")
    submit(driver.find_element(By.XPATH, "//button[text()='Save the threshold']"))
    assert "a score is a number" in driver.page_source, driver.page_source
    score = driver.find_element(By.ID, "spam-score")
    score.clear()
    score.send_keys("3,5")
    submit(driver.find_element(By.XPATH, "//button[text()='Save the threshold']"))
    assert "Your spam threshold is saved" in driver.page_source, driver.page_source
    assert driver.find_element(By.ID, "spam-score").get_attribute("value") == "3.5"
    logout()
    # An app password does not open the console.
    driver.get(base + "/console/login")
    wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys("alice@example.com")
    driver.find_element(By.ID, "password").send_keys(secret)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.error")))
    print("alice made an app password", secret, "and set her out-of-office reply and spam threshold")
except Exception:
    shot(step.replace(" ", "-"))
    traceback.print_exc()
    sys.exit(1)
finally:
    driver.quit()

# A POST without the form's CSRF token, from a logged-in session: refused, nothing made.
step = "csrf"
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
page = opener.open(base + "/console/login").read().decode()
csrf = page.split('name="csrf" value="')[1].split('"')[0]
form = urllib.parse.urlencode({"csrf": csrf, "username": "boss@example.com",
                               "password": "Boss-pass-42"}).encode()
# The cookies are Secure: urllib sends them over http only to a host it treats as secure.
for cookie in jar:
    cookie.secure = False
opener.open(base + "/console/login", form)
for cookie in jar:
    cookie.secure = False
assert any(c.name == "mw_session" for c in jar), [c.name for c in jar]
for body in ({"domain": "forged.example"}, {"domain": "forged.example", "csrf": "0" * 64}):
    try:
        opener.open(base + "/console/domains", urllib.parse.urlencode(body).encode())
        raise AssertionError("a POST without its CSRF token was taken")
    except urllib.error.HTTPError as e:
        assert e.code == 403, e.code
page = opener.open(base + "/console/").read().decode()
assert "forged.example" not in page
print("csrf-less POST refused")
if axe is not None:
    print("accessibility:", json.dumps(violations, sort_keys=True))
