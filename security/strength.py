"""How strong each MFA method type is, and whether it counts as MFA at all.

Two vocabularies reach us and both are listed: the registration report's
`methodsRegistered` names (microsoftAuthenticatorPush, mobilePhone, ...) and,
in the per-user fallback, the names taken from each method's `@odata.type`
(#microsoft.graph.phoneAuthenticationMethod -> "phone").

Decisions (shown on the posture page, so an auditor can read them):
- Phishing-resistant: FIDO2 security keys and passkeys, Windows Hello for
  Business, macOS platform credential / Secure Enclave key. These are the
  methods in Microsoft's "Phishing-resistant MFA" authentication strength.
- Standard: Microsoft Authenticator (push or passwordless phone sign-in: both
  can be relayed by an adversary-in-the-middle page, so neither is
  phishing-resistant), software and hardware OTP, certificates (we cannot
  tell single- from multi-factor certificate binding from the type alone, so
  we do not claim phishing resistance), external MFA providers.
- Weak: anything over the phone network (SMS, voice, office phone).
- Not MFA: password; email (Entra ID accepts it only for self-service
  password reset, never as a second factor); temporary access pass (a
  time-limited bootstrap credential to register real methods; Microsoft does
  not count it as MFA registration); security questions; app passwords.
- A type we do not recognise is "unrecognised" and does NOT count as MFA:
  evidence should under-state coverage rather than over-state it.
"""

PHISHING_RESISTANT = "phishing_resistant"
STANDARD = "standard"
WEAK = "weak"
NOT_MFA = "not_mfa"
UNRECOGNISED = "unrecognised"

STRENGTH_LABELS = {
    PHISHING_RESISTANT: "Phishing-resistant",
    STANDARD: "Standard",
    WEAK: "Weak",
    NOT_MFA: "Not MFA",
    UNRECOGNISED: "Unrecognised (not counted)",
}

METHOD_STRENGTH = {
    # phishing-resistant
    "fido2": PHISHING_RESISTANT,
    "fido2SecurityKey": PHISHING_RESISTANT,
    "passKeyDeviceBound": PHISHING_RESISTANT,
    "passKeyDeviceBoundAuthenticator": PHISHING_RESISTANT,
    "passKeyDeviceBoundWindowsHello": PHISHING_RESISTANT,
    "passKeySynced": PHISHING_RESISTANT,
    "passkey": PHISHING_RESISTANT,
    "windowsHelloForBusiness": PHISHING_RESISTANT,
    "platformCredential": PHISHING_RESISTANT,
    "macOsSecureEnclaveKey": PHISHING_RESISTANT,
    # standard
    "microsoftAuthenticatorPush": STANDARD,
    "microsoftAuthenticatorPasswordless": STANDARD,
    "microsoftAuthenticator": STANDARD,
    "softwareOneTimePasscode": STANDARD,
    "softwareOath": STANDARD,
    "hardwareOneTimePasscode": STANDARD,
    "hardwareOath": STANDARD,
    "oneTimePasscode": STANDARD,
    "x509Certificate": STANDARD,
    "externalAuthMethod": STANDARD,
    "external": STANDARD,
    # weak: the phone network
    "mobilePhone": WEAK,
    "alternateMobilePhone": WEAK,
    "officePhone": WEAK,
    "phone": WEAK,
    "sms": WEAK,
    "voice": WEAK,
    # not MFA
    "password": NOT_MFA,
    "email": NOT_MFA,
    "temporaryAccessPass": NOT_MFA,
    "securityQuestion": NOT_MFA,
    "appPassword": NOT_MFA,
}

# What people call each method type (Microsoft's own names in the Entra admin centre).
METHOD_NAMES = {
    "fido2": "FIDO2 security key", "fido2SecurityKey": "FIDO2 security key",
    "passKeyDeviceBound": "Passkey (device-bound)", "passKeyDeviceBoundAuthenticator": "Passkey in Microsoft Authenticator",
    "passKeyDeviceBoundWindowsHello": "Passkey in Windows Hello", "passKeySynced": "Passkey (synced)",
    "passkey": "Passkey", "windowsHelloForBusiness": "Windows Hello for Business",
    "platformCredential": "Platform credential for macOS", "macOsSecureEnclaveKey": "macOS Secure Enclave key",
    "microsoftAuthenticatorPush": "Microsoft Authenticator (push)",
    "microsoftAuthenticatorPasswordless": "Microsoft Authenticator (passwordless)",
    "microsoftAuthenticator": "Microsoft Authenticator", "softwareOneTimePasscode": "Authenticator app code (OTP)",
    "softwareOath": "Authenticator app code (OTP)", "hardwareOneTimePasscode": "Hardware token code (OTP)",
    "hardwareOath": "Hardware token code (OTP)", "oneTimePasscode": "One-time passcode",
    "x509Certificate": "Certificate (X.509)", "externalAuthMethod": "External MFA provider",
    "external": "External MFA provider", "mobilePhone": "Mobile phone (SMS or call)",
    "alternateMobilePhone": "Alternate mobile phone", "officePhone": "Office phone (call)", "phone": "Phone (SMS or call)",
    "sms": "SMS code", "voice": "Voice call", "password": "Password", "email": "Email (password reset only)",
    "temporaryAccessPass": "Temporary Access Pass", "securityQuestion": "Security questions", "appPassword": "App password",
}


def method_name(method_type):
    """A method type as people read it; an unknown type is shown as Graph sent it."""
    return METHOD_NAMES.get(method_type, method_type)


MFA_STRENGTHS = (PHISHING_RESISTANT, STANDARD, WEAK)  # strongest first
_RANK = {strength: rank for rank, strength in enumerate(reversed(MFA_STRENGTHS), start=1)}


def method_strength(method_type):
    return METHOD_STRENGTH.get(method_type, UNRECOGNISED)


def is_mfa_method(method_type):
    return method_strength(method_type) in _RANK


def has_mfa(method_types):
    return any(is_mfa_method(m) for m in method_types)


def strongest_strength(method_types):
    """The strongest MFA strength among the types, or "none" when none is MFA."""
    ranked = [method_strength(m) for m in method_types if is_mfa_method(m)]
    return max(ranked, key=_RANK.__getitem__) if ranked else "none"


def strength_table():
    """[(strength label, [(method name, method type)])] for the page that explains the rule."""
    groups = {}
    for method, strength in METHOD_STRENGTH.items():
        groups.setdefault(strength, []).append(method)
    order = (*MFA_STRENGTHS, NOT_MFA)
    return [(STRENGTH_LABELS[s], [(method_name(m), m) for m in sorted(groups[s], key=str.lower)]) for s in order]
