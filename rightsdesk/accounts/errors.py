from rightsdesk.core.errors import ApplicationError


class RoleOrganizationMismatch(ApplicationError):
    # One role, one kind of organisation: an agent belongs to an agency, a campaign manager
    # to a brand, legal to either; principals and staff belong to none.
    code = "role_organization_mismatch"
    default_message = "This role does not fit this organisation."


class EmailTaken(ApplicationError):
    code = "email_taken"
    status = 409
    default_message = "A user with this e-mail address already exists."
